-- admit: runs in the push's transaction right after its LPUSH, and keeps the pushed entries
-- unless the queue's depth would exceed its limit, in which case it trims them off again.
-- The entries never pass through Lua: handing a value to Lua costs several times what the
-- LPUSH of it does.
--
-- KEYS: queue (the list of entries), depth_key (its event count)
-- ARGV: max_depth (most events the queue may hold), events (in the pushed entries),
--       entries (how many were pushed)
-- Returns {1, depth after} when the entries stay, {0, depth} when they were trimmed off.
-- The depth is counted afresh (from 0) when the pushed entries are all the list holds, so a
-- queue emptied by hand leaves no stale count behind.
local queue = KEYS[1]
local depth_key = KEYS[2]
local max_depth = tonumber(ARGV[1])
local events = tonumber(ARGV[2])
local entries = tonumber(ARGV[3])

local depth = 0
if redis.call('LLEN', queue) > entries then
  depth = tonumber(redis.call('GET', depth_key) or '0')
end
if depth + events > max_depth then
  redis.call('LTRIM', queue, entries, -1)
  return {0, depth}
end
redis.call('SET', depth_key, depth + events)
return {1, depth + events}
