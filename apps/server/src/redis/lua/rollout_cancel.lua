--[[ rollout_cancel: mark a rollout canceled (the fleet-wide part; buckets follow through
rollout_cancel_bucket). Idempotent: canceling twice keeps the first time and actor.
KEYS     1 rollout hash
ARGV     1 actor
Returns  {'OK', canceledAt} or {'ERR', 'NOT_FOUND', message}
]]
-- @include time
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { 'ERR', 'NOT_FOUND', 'no such rollout' }
end
local at = tonumber(redis.call('HGET', KEYS[1], 'canceledAt')) or 0
if at == 0 then
  at = now_ms()
  redis.call('HSET', KEYS[1], 'canceledAt', at, 'canceledBy', ARGV[1])
end
return { 'OK', at }
