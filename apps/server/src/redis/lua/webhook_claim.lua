--[[ webhook_claim: takes due deliveries for this pod to send: each one's due time moves to now + lease,
so if the pod dies mid-send another pod takes it when the lease ends (the event keeps its id: a
receiver may see it twice, never lose it). Each claim has a new lease number; only its holder may
record the outcome. Deliveries of disabled endpoints are parked (left out of the due set).
KEYS[1]  due set
ARGV     1 P webhook key prefix, 2 most deliveries, 3 lease ms, 4 claimer (pod instance)
Returns  {now, {delivery id, lease, attempt, URL, secret, event type, body}, ...}
]]
-- @include time
-- @include webhooks
local P, limit, lease_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local out = { now }
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)) do
  local ep, ev = wh_split(id)
  local k = W.delivery(P, ep or '', ev or '')
  local e = redis.call('HMGET', W.endpoint(P, ep or ''), 'url', 'secret', 'enabled')
  local d = redis.call('HMGET', k, 'state', 'type', 'body')
  if d[1] ~= 'pending' or not e[1] or e[3] ~= '1' then
    redis.call('ZREM', KEYS[1], id)
  else
    local lease = redis.call('HINCRBY', k, 'lease', 1)
    local attempt = redis.call('HINCRBY', k, 'attempts', 1)
    redis.call('HSET', k, 'claimedBy', ARGV[4], 'claimedAt', now)
    redis.call('ZADD', KEYS[1], now + lease_ms, id)
    out[#out + 1] = { id, lease, attempt, e[1], e[2], d[2], d[3] }
  end
end
return out
