--[[ token_state: look up a runtime-issued token (admin or enrollment) and, for enrollment tokens,
take one use.
KEYS     1 token hash
ARGV     1 uses to take (0: just check; 1: take one; -1: give one back)
Returns  {'OK', stored hash, name, role ('' for enrollment tokens)} or {'ERR', 'UNAUTHORIZED', reason}
Expiry is judged by Redis time. The caller compares the stored hash in constant time.
]]
-- @include time
local t = redis.call('HMGET', KEYS[1], 'hash', 'name', 'role', 'expiresAt', 'revokedAt', 'usesLeft')
if not t[1] then return { 'ERR', 'UNAUTHORIZED', 'unknown token' } end
if (tonumber(t[5]) or 0) > 0 then return { 'ERR', 'UNAUTHORIZED', 'revoked token' } end
local expires = tonumber(t[4]) or 0
if expires > 0 and expires <= now_ms() then return { 'ERR', 'UNAUTHORIZED', 'expired token' } end
local take = tonumber(ARGV[1])
if t[6] and t[6] ~= '' then
  local left = tonumber(t[6])
  if left - math.max(take, 0) < 0 or (take == 0 and left <= 0) then
    return { 'ERR', 'UNAUTHORIZED', 'token used up' }
  end
  if take ~= 0 then redis.call('HSET', KEYS[1], 'usesLeft', left - take) end
end
return { 'OK', t[1], t[2] or '', t[3] or '' }
