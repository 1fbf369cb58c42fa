--[[ token_revoke: revoke a runtime-issued token (admin or enrollment). Idempotent.
KEYS     1 token hash
Returns  {'OK', field, value, ...} the token's fields (without its hash) or {'ERR', 'NOT_FOUND', message}
]]
-- @include time
if redis.call('EXISTS', KEYS[1]) == 0 then return { 'ERR', 'NOT_FOUND', 'no such token' } end
if (tonumber(redis.call('HGET', KEYS[1], 'revokedAt')) or 0) == 0 then
  redis.call('HSET', KEYS[1], 'revokedAt', now_ms())
end
local fields = redis.call('HGETALL', KEYS[1])
local out = { 'OK' }
for i = 1, #fields, 2 do
  if fields[i] ~= 'hash' then
    out[#out + 1] = fields[i]
    out[#out + 1] = fields[i + 1]
  end
end
return out
