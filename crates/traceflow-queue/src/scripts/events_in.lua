-- events_in(entry): the number of events in a queue entry, which holds one per line.
-- Prepended to the scripts that count the entries they move (claim, take_over).
local function events_in(entry)
  local count, at = 1, string.find(entry, '\n', 1, true)
  while at do
    count = count + 1
    at = string.find(entry, '\n', at + 1, true)
  end
  return count
end
