--[[ slot_acquire: may this device start a delivery of a rate- or in-flight-limited rollout now?
KEYS     1 slots (zset device -> lease expiry), 2 limiter state (hash: tokens, refilledAt, succeeded),
         3 rollout hash (maxInFlight, maxPerMinute, ramp)
ARGV     1 deviceId
Returns  {granted (0/1), retry after ms (0: wait for a slot to be released), fresh (1: a new slot; 0: the
         device already held one)}
In flight: leases, so a slot whose pod died frees itself when its lease runs out. Rate: a token
bucket refilled continuously (one second's worth of burst), its rate stepped up by the ramp as
deliveries succeed. A device that already holds a slot is granted again (idempotent). A lease
lasts twice the ack timeout (progress reports renew it), so only a dead pod's slots expire.
]]
-- @include time
local dev = ARGV[1]
local now = now_ms()
local lease = 2 * (tonumber(redis.call('HGET', KEYS[3], 'ackTimeoutMs')) or 60000) + 10000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], dev) then
  redis.call('ZADD', KEYS[1], now + lease, dev)
  return { 1, 0, 0 }
end
local r = redis.call('HMGET', KEYS[3], 'maxInFlight', 'maxPerMinute', 'ramp')
local cap, per_minute, ramp = tonumber(r[1]), tonumber(r[2]), r[3]
if cap and redis.call('ZCARD', KEYS[1]) >= cap then return { 0, 0, 0 } end

if ramp and ramp ~= '' then
  local rp = cjson.decode(ramp)
  local succeeded = tonumber(redis.call('HGET', KEYS[2], 'succeeded')) or 0
  local stepped = rp.startPerMinute * rp.factor ^ math.floor(succeeded / rp.everySuccesses)
  per_minute = per_minute and math.min(per_minute, stepped) or stepped
end
if per_minute then
  local l = redis.call('HMGET', KEYS[2], 'tokens', 'refilledAt')
  local burst = math.max(1, per_minute / 60)
  local tokens = tonumber(l[1]) or burst
  local refilled = tonumber(l[2]) or now
  tokens = math.min(burst, tokens + (now - refilled) * per_minute / 60000)
  if tokens < 1 then
    redis.call('HSET', KEYS[2], 'tokens', tostring(tokens), 'refilledAt', now)
    return { 0, math.ceil((1 - tokens) * 60000 / per_minute), 0 }
  end
  redis.call('HSET', KEYS[2], 'tokens', tostring(tokens - 1), 'refilledAt', now)
end
redis.call('ZADD', KEYS[1], now + lease, dev)
return { 1, 0, 1 }
