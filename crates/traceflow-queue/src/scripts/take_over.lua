-- take_over: hands a dead worker's batch, as it stands (the same entries in the same order),
-- to a worker that holds none, so that the batch is stored again exactly as the INSERT that
-- may already have succeeded (same events, same deduplication token), never merged with
-- other entries. Only while the dead worker's heartbeat is gone. The depth is not touched:
-- the batch's events left it when they were claimed.
--
-- The holders set follows the batch; an orphan found empty (removed by hand) leaves it.
--
-- KEYS: orphan (the dead worker's processing list), orphan_heartbeat (its heartbeat),
--       heir (the processing list of the worker taking it over), holders (the set of
--       processing lists holding a batch)
-- ARGV: none
-- Returns the number of events taken over: 0 when the heartbeat is there, the batch is gone
-- (taken over by another worker) or the heir holds a batch of its own.
local orphan = KEYS[1]
local orphan_heartbeat = KEYS[2]
local heir = KEYS[3]
local holders = KEYS[4]

if redis.call('EXISTS', orphan_heartbeat) == 1 or redis.call('EXISTS', heir) == 1 then
  return 0
end
local events = 0
for _, entry in ipairs(redis.call('LRANGE', orphan, 0, -1)) do
  events = events + events_in(entry)
end
redis.call('SREM', holders, orphan)
if events > 0 then
  redis.call('RENAME', orphan, heir)
  redis.call('SADD', holders, heir)
end
return events
