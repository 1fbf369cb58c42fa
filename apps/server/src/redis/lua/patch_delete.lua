--[[ patch_delete: remove a patch no live rollout uses.
KEYS     1 patch hash, 2 patches index, 3 name@version -> id hash, 4 set of live rollouts
ARGV     1 patchId, 2 rollout key prefix (`<prefix>:{g}:rollout:`)
Returns  {'OK'} or {'ERR', 'NOT_FOUND' | 'CONFLICT', message}
Live rollouts are few (active or paused ones), so checking each is cheap. The bytes stay in the
artifact store: content-addressed, another patch may share them.
]]
local p = redis.call('HMGET', KEYS[1], 'id', 'name', 'version')
if not p[1] then return { 'ERR', 'NOT_FOUND', 'no such patch' } end
for _, rid in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if redis.call('HGET', ARGV[2] .. rid, 'patchId') == ARGV[1] then
    return { 'ERR', 'CONFLICT', 'used by live rollout ' .. rid }
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], p[2] .. '@' .. p[3])
return { 'OK' }
