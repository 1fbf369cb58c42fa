--[[ rollout_create: record a rollout of an existing patch (the fleet-wide part; buckets follow
through rollout_attach).
KEYS     1 patch hash, 2 rollout hash, 3 rollouts index (zset by seq), 4 sequence counter,
         5 set of rollouts still being attached
ARGV     1 rolloutId, 2 target (JSON), 3 ackTimeoutMs, 4 maxAttempts, 5 backoffBaseMs,
         6 backoffMaxMs, 7 actor
Returns  {'OK', seq, createdAt, patchName, patchVersion, notes, artifact} or {'ERR', 'NOT_FOUND', message}
]]
-- @include time
local p = redis.call('HMGET', KEYS[1], 'id', 'name', 'version', 'notes', 'artifact')
if not p[1] then
  return { 'ERR', 'NOT_FOUND', 'no such patch' }
end
local now = now_ms()
local seq = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[2], 'id', ARGV[1], 'seq', seq, 'patchId', p[1], 'name', p[2], 'version', p[3],
  'target', ARGV[2], 'ackTimeoutMs', ARGV[3], 'maxAttempts', ARGV[4], 'backoffBaseMs', ARGV[5],
  'backoffMaxMs', ARGV[6], 'createdAt', now, 'createdBy', ARGV[7], 'canceledAt', 0, 'canceledBy', '')
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
return { 'OK', seq, now, p[2], p[3], p[4], p[5] }
