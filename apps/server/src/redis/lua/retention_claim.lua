--[[ retention_claim: a pod takes one ended rollout whose finished deliveries are due to go.
KEYS     1 ended rollouts (zset rolloutId -> when it ended, ms)
ARGV     1 retention ms, 2 lease ms
Returns  {rolloutId, score} (the score the claim left: retention_done compares it), or {}
The claim moves the rollout's score on by the lease: if the pod dies mid-purge, another takes it
once the lease is over, and purges again (nothing twice: a line gone stays gone).
]]
-- @include time
local now = now_ms()
local retention, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - retention, 'LIMIT', 0, 1)
if #due == 0 then return {} end
local score = now - retention + lease
redis.call('ZADD', KEYS[1], score, due[1])
return { due[1], score }
