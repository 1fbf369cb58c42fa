--[[ webhook_done: the receiver answered 2xx: the delivery is delivered and the endpoint's consecutive
failures are reset. Compare-and-set on the claim's lease: an outcome from an older claim changes nothing.
KEYS[1]  due set
ARGV     1 P webhook key prefix, 2 delivery id, 3 lease, 4 HTTP status, 5 finished deliveries kept per endpoint
Returns  {'OK', 1} recorded, {'OK', 0} stale (claimed again since, ended, or the endpoint is gone)
]]
-- @include time
-- @include webhooks
local P, id = ARGV[1], ARGV[2]
local ep, ev = wh_split(id)
local k = W.delivery(P, ep or '', ev or '')
local d = redis.call('HMGET', k, 'state', 'lease')
if d[1] ~= 'pending' or d[2] ~= ARGV[3] then return { 'OK', 0 } end
local now = now_ms()
redis.call('HSET', k, 'deliveredAt', now, 'lastStatus', ARGV[4], 'lastError', '')
wh_finish(P, KEYS[1], ep, ev, 'delivered', now, tonumber(ARGV[5]))
local key = W.endpoint(P, ep)
redis.call('HSET', key, 'failures', 0, 'lastDeliveredAt', now)
redis.call('HINCRBY', key, 'delivered', 1)
return { 'OK', 1 }
