--[[ attach_done: a bucket of a rollout is attached; the last one ends the attach.
KEYS     1 set of rollouts being attached, 2 the rollout's attach job, 3 its leases, 4 the buckets
         attached (set), 5 the rollout hash, 6 rollout event stream, 7 rollouts to evaluate
ARGV     1 rolloutId, 2 bucket
Returns  {buckets attached, span}; {0, 0} if the attach had already ended
Progress is kept in the rollout hash (attachDone, attachOf) for status readers, and told in the
event stream ('attaching') at most once a second: a long attach shows its progress, a short one
only its end. The last bucket clears the job, marks the rollout attached (attachedAt) and queues
its gates: only now do its waves hold every device.
]]
-- @include time
-- @include events
local TELL_EVERY_MS = 1000
local rid = ARGV[1]
if redis.call('SISMEMBER', KEYS[1], rid) == 0 then return { 0, 0 } end
local now = now_ms()
local fresh = redis.call('SADD', KEYS[4], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
local done = redis.call('SCARD', KEYS[4])
local span = tonumber(redis.call('HGET', KEYS[2], 'span')) or 0
redis.call('HSET', KEYS[5], 'attachDone', done)
if done >= span then
  redis.call('SREM', KEYS[1], rid)
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  redis.call('HSET', KEYS[5], 'attachedAt', now)
  redis.call('ZADD', KEYS[7], 0, rid)
  rollout_event(KEYS[6], rid, 'attached', 'camfleet', 'attached ' .. done .. '/' .. span .. ' buckets', '', now)
elseif fresh == 1 and now - (tonumber(redis.call('HGET', KEYS[2], 'toldAt')) or 0) >= TELL_EVERY_MS then
  redis.call('HSET', KEYS[2], 'toldAt', now)
  rollout_event(KEYS[6], rid, 'attaching', 'camfleet', 'attached ' .. done .. '/' .. span .. ' buckets', '', now)
end
return { done, span }
