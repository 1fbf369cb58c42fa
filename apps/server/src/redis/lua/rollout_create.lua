--[[ rollout_create: record a rollout of an existing patch (the fleet-wide part; buckets follow
through rollout_attach).
KEYS     1 patch hash, 2 rollout hash, 3 rollouts index (zset by seq), 4 sequence counter,
         5 set of rollouts still being attached, 6 set of live (active or paused) rollouts,
         7 rollout event stream
Gates are evaluated only once the rollout reached every bucket (rollout_attach, then the caller).
ARGV     1 rolloutId, 2 settings (JSON object of string fields), 3 actor
Returns  {'OK', seq, createdAt} or {'ERR', 'NOT_FOUND', message}
]]
-- @include time
local p = redis.call('HMGET', KEYS[1], 'id', 'name', 'version', 'notes', 'artifact', 'signature')
if not p[1] then
  return { 'ERR', 'NOT_FOUND', 'no such patch' }
end
local now = now_ms()
local seq = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[2], 'id', ARGV[1], 'seq', seq, 'patchId', p[1], 'name', p[2], 'version', p[3],
  'notes', p[4], 'artifact', p[5], 'signature', p[6] or '', 'createdAt', now, 'createdBy', ARGV[3], 'status', 'active',
  'statusAt', now, 'statusBy', ARGV[3], 'reason', '', 'openWave', 0, 'waveMetAt', 0, 'rev', 1)
for field, value in pairs(cjson.decode(ARGV[2])) do
  redis.call('HSET', KEYS[2], field, value)
end
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('SADD', KEYS[6], ARGV[1])
rollout_event(KEYS[7], ARGV[1], 'created', ARGV[3], '', 0, now)
return { 'OK', seq, now }
