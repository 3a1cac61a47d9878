-- claim: unless this worker already holds a batch (a claim whose reply was lost, a batch not
-- yet acknowledged, one taken over from a dead worker), moves entries from the queue's right
-- end into the worker's processing list, oldest first, until they hold max_events events (an
-- entry that would overshoot stays queued, unless it is the first), and takes them off the
-- depth and off their tenants' counts. The batch is read back with LRANGE in the same pipeline rather than returned:
-- handing each value back out of Lua costs as much as the move itself.
--
-- The processing list joins the holders set, where the upkeep looks for dead workers' batches.
--
-- KEYS: queue (the list of entries), processing (this worker's batch), depth_key (the
--       queue's event count), tenant_depth_key (each tenant's event count in the queue),
--       holders (the set of processing lists holding a batch)
-- ARGV: max_events (most events to move, unless the first entry alone holds more)
-- Returns the number of events moved (0 when a batch was held or the queue is empty). The
-- counts are set to 0 whenever the queue is left empty, so a count left stale by a queue
-- emptied by hand is gone after one claim.
local queue = KEYS[1]
local processing = KEYS[2]
local depth_key = KEYS[3]
local tenant_depth_key = KEYS[4]
local holders = KEYS[5]
local max_events = tonumber(ARGV[1])

if redis.call('EXISTS', processing) == 1 then return 0 end
local events = 0
local taken = {}
while events < max_events do
  local entry = redis.call('LMOVE', queue, processing, 'RIGHT', 'RIGHT')
  if not entry then break end
  local count = events_in(entry)
  if events > 0 and events + count > max_events then
    redis.call('LMOVE', processing, queue, 'RIGHT', 'RIGHT')
    break
  end
  events = events + count
  local tenant = tenant_of(entry)
  taken[tenant] = (taken[tenant] or 0) + count
end
if events > 0 then redis.call('SADD', holders, processing) end
local left = 0
if redis.call('LLEN', queue) > 0 then
  left = math.max(tonumber(redis.call('GET', depth_key) or '0') - events, 0)
  for tenant, count in pairs(taken) do
    if redis.call('HINCRBY', tenant_depth_key, tenant, -count) <= 0 then
      redis.call('HDEL', tenant_depth_key, tenant)
    end
  end
else
  redis.call('DEL', tenant_depth_key)
end
redis.call('SET', depth_key, left)
return events
