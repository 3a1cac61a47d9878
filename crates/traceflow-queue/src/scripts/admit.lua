-- admit: runs in the push's transaction right after its LPUSH, and keeps the pushed entries
-- unless the queue's depth would exceed its limit, or a tenant's events would exceed its
-- share, in which case it trims them off again. The entries never pass through Lua:
-- handing a value to Lua costs several times what the LPUSH of it does.
--
-- KEYS: queue (the list of entries), depth_key (its event count), tenant_depth_key (a hash
--       of each tenant's event count in the queue)
-- ARGV: max_depth (most events the queue may hold), events (in the pushed entries),
--       entries (how many were pushed), then for each tenant of the pushed entries: its
--       name, its events among them, its max_queued_events (-1: no share)
-- Returns {1, depth after} when the entries stay, {0, depth} when they were trimmed off for
-- the queue's limit, {2, queued} when for a tenant's share (queued: that tenant's count).
-- The counts start afresh (from 0) when the pushed entries are all the list holds, so a
-- queue emptied by hand leaves no stale count behind.
local queue = KEYS[1]
local depth_key = KEYS[2]
local tenant_depth_key = KEYS[3]
local max_depth = tonumber(ARGV[1])
local events = tonumber(ARGV[2])
local entries = tonumber(ARGV[3])

local fresh = redis.call('LLEN', queue) <= entries
local depth = 0
if not fresh then
  depth = tonumber(redis.call('GET', depth_key) or '0')
end
if depth + events > max_depth then
  redis.call('LTRIM', queue, entries, -1)
  return {0, depth}
end
if fresh then
  redis.call('DEL', tenant_depth_key)
end
for i = 4, #ARGV, 3 do
  local share = tonumber(ARGV[i + 2])
  if share >= 0 then
    local queued = tonumber(redis.call('HGET', tenant_depth_key, ARGV[i]) or '0')
    if queued + tonumber(ARGV[i + 1]) > share then
      redis.call('LTRIM', queue, entries, -1)
      return {2, queued}
    end
  end
end
for i = 4, #ARGV, 3 do
  redis.call('HINCRBY', tenant_depth_key, ARGV[i], ARGV[i + 1])
end
redis.call('SET', depth_key, depth + events)
return {1, depth + events}
