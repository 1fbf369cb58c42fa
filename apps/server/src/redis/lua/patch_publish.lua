--[[ patch_publish: record a new patch; (name, version) is unique.
KEYS     1 patch hash, 2 patches index (zset by time), 3 name@version -> id hash
ARGV     1 patchId, 2 name, 3 version, 4 notes, 5 actor, 6 artifact (JSON or ''), 7 signature (JSON or '')
Returns  {'OK', createdAt} or {'ERR', 'CONFLICT', message}
]]
-- @include time
local id, name, version = ARGV[1], ARGV[2], ARGV[3]
local existing = redis.call('HGET', KEYS[3], name .. '@' .. version)
if existing then
  return { 'ERR', 'CONFLICT', 'patch ' .. name .. ' ' .. version .. ' already exists as ' .. existing }
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'id', id, 'name', name, 'version', version, 'notes', ARGV[4], 'artifact', ARGV[6],
  'signature', ARGV[7], 'createdAt', now, 'createdBy', ARGV[5])
redis.call('ZADD', KEYS[2], now, id)
redis.call('HSET', KEYS[3], name .. '@' .. version, id)
return { 'OK', now }
