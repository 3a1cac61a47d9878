-- events_in(entry): the number of events in a queue entry, which holds one per line.
-- tenant_of(entry): whose events they are (an entry holds one tenant's): the first line's
-- "tenant", which the wire format writes right after the id and leaves out for the default
-- tenant (wire.rs, `entry_tenant`, says the same in Rust).
-- Prepended to the scripts that count the entries they move (claim, take_over).
local function events_in(entry)
  local count, at = 1, string.find(entry, '\n', 1, true)
  while at do
    count = count + 1
    at = string.find(entry, '\n', at + 1, true)
  end
  return count
end

local function tenant_of(entry)
  return string.match(entry, '^{"id":"[^"]*","tenant":"([^"]*)"') or 'default'
end
