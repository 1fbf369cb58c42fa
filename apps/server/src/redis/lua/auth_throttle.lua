--[[ auth_throttle: whether a source address, or the (address, claimed identity) pair, has used up
its failed logins for now (read only: checked before any credential is looked at).
KEYS     1 failures from the address   2 failures from the address for the identity
ARGV     1 most failures from the address   2 most failures for the identity from it
Returns  {'', 0} when allowed, or {'address' | 'identity', ms until the last over-limit window ends}
]]
local limits = { tonumber(ARGV[1]), tonumber(ARGV[2]) }
local names = { 'address', 'identity' }
local refused, wait = '', 0
for i = 1, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= limits[i] then
    local left = redis.call('PTTL', KEYS[i])
    if left < 1 then left = 1 end
    if left > wait then refused, wait = names[i], left end
  end
end
return { refused, wait }
