--[[ rollout_cancel_bucket: cancel a rollout's open deliveries in one bucket.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 rolloutId, 3 grace ms
Returns  number of deliveries canceled
Marks the bucket's copy canceled even if the rollout never reached this bucket, so a late
rollout_attach does nothing. Reports for canceled deliveries are then refused (DELIVERY_FINISHED).
]]
-- @include time
-- @include common
local B, rid, grace = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
redis.call('HSET', B .. 'ro:' .. rid, 'status', 'canceled')
redis.call('ZREM', B .. 'ros', rid)
local open = B .. 'open:' .. rid
local n = 0
for _, dev in ipairs(redis.call('SMEMBERS', open)) do
  local k = delivery_key(B, rid, dev)
  local d = redis.call('HMGET', k, 'state', 'attempt')
  if not FINAL[d[1]] then
    set_state(B, rid, dev, d[1], 'canceled', tonumber(d[2]), 'rollout canceled', now)
    redis.call('ZREM', B .. 'q:' .. dev, rid)
    local devkey = B .. 'dev:' .. dev
    if redis.call('HGET', devkey, 'active') == rid then redis.call('HSET', devkey, 'active', '') end
    reschedule(B, dev, now, grace)
    n = n + 1
  end
end
redis.call('DEL', open)
return n
