--[[ slot_release: a delivery of a limited rollout left flight (or reports progress: renew its lease).
KEYS     1 slots (zset device -> lease expiry), 2 limiter state (hash), 3 rollout hash
ARGV     1 deviceId, 2 'release' | 'hold', 3 final state ('succeeded' counts for the ramp; '' otherwise)
Returns  free in-flight slots after this (-1 when the rollout caps only the rate)
]]
-- @include time
local dev, action, final = ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()
local lease = 2 * (tonumber(redis.call('HGET', KEYS[3], 'ackTimeoutMs')) or 60000) + 10000
if action == 'hold' then
  if redis.call('ZSCORE', KEYS[1], dev) then redis.call('ZADD', KEYS[1], now + lease, dev) end
else
  redis.call('ZREM', KEYS[1], dev)
  if final == 'succeeded' then redis.call('HINCRBY', KEYS[2], 'succeeded', 1) end
end
local cap = tonumber(redis.call('HGET', KEYS[3], 'maxInFlight'))
if not cap then return -1 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return cap - redis.call('ZCARD', KEYS[1])
