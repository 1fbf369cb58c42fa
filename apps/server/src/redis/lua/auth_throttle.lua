--[[ auth_throttle: whether a source address, or the (address, claimed identity) pair, has used up
its failed logins for now (read only: checked before any credential is looked at).
KEYS     1 failures from the address   2 failures from the address for the identity
ARGV     1 most failures from the address   2 most failures for the identity from it
Returns  {'', 0} when allowed, or {'address' | 'identity', ms until its window ends}
]]
local limits = { tonumber(ARGV[1]), tonumber(ARGV[2]) }
local names = { 'address', 'identity' }
for i = 1, 2 do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= limits[i] then
    return { names[i], math.max(redis.call('PTTL', KEYS[i]), 1) }
  end
end
return { '', 0 }
