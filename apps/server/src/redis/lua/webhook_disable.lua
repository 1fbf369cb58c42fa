--[[ webhook_disable: disables an endpoint whose consecutive failed attempts reached the limit (checked
here again: a success since resets them). Its backlog is parked (out of the due set) and keeps taking
new events, bounded, until the endpoint is enabled. The audit log gets a line.
KEYS[1]  due set, KEYS[2] audit stream
ARGV     1 P webhook key prefix, 2 endpoint id, 3 consecutive failures that disable, 4 audit entries kept
Returns  {'OK', 1, reason} when this call disabled it, {'OK', 0, ''} otherwise
]]
-- @include time
-- @include webhooks
local P, id, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local key = W.endpoint(P, id)
local f = redis.call('HMGET', key, 'enabled', 'failures', 'lastError')
if f[1] ~= '1' or (tonumber(f[2]) or 0) < limit then return { 'OK', 0, '' } end
local now = now_ms()
local reason = f[2] .. ' consecutive failed attempts; the last: ' .. (f[3] or '')
redis.call('HSET', key, 'enabled', 0, 'disabledAt', now, 'disabledReason', reason)
for _, ev in ipairs(redis.call('ZRANGE', W.pending(P, id), 0, -1)) do
  redis.call('ZREM', KEYS[1], id .. '/' .. ev)
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'actor', 'webhooks', 'role', 'system', 'action',
  'webhooks.disabled', 'input', '{"id":"' .. id .. '"}', 'ok', '1', 'error', reason)
return { 'OK', 1, reason }
