--[[ auth_failure: count one refused credential against its source address and against the
(address, claimed identity) pair, in fixed windows that start with their first failure.
KEYS     1 failures from the address   2 failures from the address for the identity
         (both carry the address's hash tag: one slot)
ARGV     1 window (ms)
Returns  {address failures, identity failures} in their current windows
]]
local window = tonumber(ARGV[1])
local counts = {}
for i = 1, 2 do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 or redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], window) end
  counts[i] = count
end
return counts
