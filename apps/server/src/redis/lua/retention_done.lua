--[[ retention_done: an ended rollout's finished deliveries are gone from every bucket.
KEYS     1 ended rollouts (zset rolloutId -> when it ended), 2 the rollout hash
ARGV     1 rolloutId, 2 the score retention_claim left
Returns  1 if it left the ended rollouts, 0 if it ended again meanwhile (its entry stays)
The rollout's counters, events and audit stay: `rollout status` shows it as before.
]]
-- @include time
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1])) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'purgedAt', now_ms())
return 1
