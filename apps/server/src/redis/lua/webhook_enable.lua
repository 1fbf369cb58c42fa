--[[ webhook_enable: (re-)enables an endpoint: its consecutive failures are forgotten and its backlog
is due now (a delivery whose send is in flight keeps its lease).
KEYS[1]  due set
ARGV     1 P webhook key prefix, 2 endpoint id
Returns  {'OK', deliveries made due} or {'ERR', 'NOT_FOUND', message}
]]
-- @include time
-- @include webhooks
local P, id = ARGV[1], ARGV[2]
local key = W.endpoint(P, id)
if redis.call('EXISTS', key) == 0 then return { 'ERR', 'NOT_FOUND', 'no webhook ' .. id } end
local now = now_ms()
redis.call('HSET', key, 'enabled', 1, 'failures', 0, 'disabledAt', 0, 'disabledReason', '')
local resumed = 0
for _, ev in ipairs(redis.call('ZRANGE', W.pending(P, id), 0, -1)) do
  if redis.call('HGET', W.delivery(P, id, ev), 'state') == 'pending' then
    resumed = resumed + redis.call('ZADD', KEYS[1], 'NX', now, id .. '/' .. ev)
  end
end
return { 'OK', resumed }
