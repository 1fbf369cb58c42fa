--[[ eval_claim: claim rollouts whose gates are due for evaluation. Each is pushed back by the
fallback interval, so live rollouts are evaluated at least that often even if no trigger arrives,
and two pods never evaluate one rollout in the same round.
KEYS     1 rollouts to evaluate (zset rolloutId -> due time)
ARGV     1 max rollouts, 2 fallback ms
Returns  {rolloutId, ...}
]]
-- @include time
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(due) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
end
return due
