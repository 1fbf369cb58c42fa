--[[ webhook_create: records a new webhook endpoint. Its signing secret is kept as it is: the pods
sign every request with it (a digest could not sign). A resend of the same call answers the same.
KEYS[1]  endpoint index (zset by creation time)
ARGV     1 P webhook key prefix, 2 endpoint id, 3 URL, 4 event patterns (comma-separated),
         5 description, 6 signing secret, 7 actor, 8 most endpoints allowed
Returns  {'OK', createdAt} or {'ERR', 'CONFLICT', message}
]]
-- @include time
-- @include webhook_keys
local P, id, secret = ARGV[1], ARGV[2], ARGV[6]
local key = W.endpoint(P, id)
if redis.call('EXISTS', key) == 1 then
  if redis.call('HGET', key, 'secret') == secret then return { 'OK', redis.call('HGET', key, 'createdAt') } end
  return { 'ERR', 'CONFLICT', 'webhook ' .. id .. ' exists' }
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[8]) then
  return { 'ERR', 'CONFLICT', 'at most ' .. ARGV[8] .. ' webhook endpoints; delete one first' }
end
local now = now_ms()
redis.call('HSET', key, 'id', id, 'url', ARGV[3], 'events', ARGV[4], 'description', ARGV[5], 'secret', secret,
  'createdAt', now, 'createdBy', ARGV[7], 'enabled', 1, 'disabledAt', 0, 'disabledReason', '', 'failures', 0,
  'delivered', 0, 'givenUp', 0, 'dropped', 0, 'droppedAt', 0, 'lastDeliveredAt', 0, 'lastFailureAt', 0,
  'lastError', '')
redis.call('ZADD', KEYS[1], now, id)
return { 'OK', now }
