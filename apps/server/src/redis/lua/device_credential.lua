--[[ device_credential: set or drop a device's own credential (only its SHA-256 is stored).
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 deviceId, 3 action: enroll | provision | rotate | revoke,
         4 secret hash ('' for revoke), 5 model, 6 labels (JSON) — for provision of a new device,
         7 the version of the bucket layout the caller placed the device by (placement.lua)
Returns  {'OK', node, connection id} (where the device is connected now, '' if nowhere)
         {'ERR', code, message}
enroll: only an id without a credential (an enrolled id cannot be taken over; a revoked one stays
refused). provision: creates the device if needed; refused if it has a credential (rotate it).
rotate: a new secret, the old one stops working. revoke: no credential, refused from now on.
]]
-- @include time
-- @include keys
-- @include placement
local B, dev, action, hash = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if placed_by_old_layout(B, ARGV[7]) then
  return redis.error_reply('MOVING the bucket layout changed: place the device again')
end
local devkey = K.device(B, dev)
local now = now_ms()
local d = redis.call('HMGET', devkey, 'secret', 'revoked', 'node', 'conn', 'id')
local has_secret, revoked, exists = d[1] and d[1] ~= '', d[2] == '1', d[5] ~= false

local function ensure_device(model, labels)
  if exists then return end
  redis.call('HSET', devkey, 'id', dev, 'firstSeen', now, 'lastSeen', now, 'active', '', 'online', 0, 'node', '',
    'conn', '', 'model', model, 'firmware', '', 'labels', labels)
  redis.call('ZADD', K.devices(B), 0, dev)
end

if action == 'enroll' then
  if has_secret or revoked then return { 'ERR', 'UNAUTHORIZED', 'device credentials refused' } end
  ensure_device('unknown', '{}')
elseif action == 'provision' then
  if has_secret then return { 'ERR', 'CONFLICT', 'device ' .. dev .. ' already has a credential; rotate it' } end
  ensure_device(ARGV[5], ARGV[6])
elseif not exists then
  return { 'ERR', 'NOT_FOUND', 'no device ' .. dev }
end
if action == 'revoke' then
  redis.call('HSET', devkey, 'revoked', 1)
  redis.call('HDEL', devkey, 'secret')
else
  redis.call('HSET', devkey, 'secret', hash, 'revoked', 0)
end
return { 'OK', d[3] or '', d[4] or '' }
