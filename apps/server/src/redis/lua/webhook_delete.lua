--[[ webhook_delete: removes an endpoint with its backlog and its delivery log; nothing more is sent
to it (a send in flight finds its delivery gone and records nothing).
KEYS[1]  due set
ARGV     1 P webhook key prefix, 2 endpoint id
Returns  {'OK', field, value, ...} the endpoint as it was (without its secret, with 'backlog'), or
         {'ERR', 'NOT_FOUND', message}
]]
-- @include webhooks
local P, id = ARGV[1], ARGV[2]
local key = W.endpoint(P, id)
if redis.call('EXISTS', key) == 0 then return { 'ERR', 'NOT_FOUND', 'no webhook ' .. id } end
local out = wh_fields(key)
local pending, log = W.pending(P, id), W.log(P, id)
out[#out + 1] = 'backlog'
out[#out + 1] = redis.call('ZCARD', pending)
for _, set in ipairs({ pending, log }) do
  for _, ev in ipairs(redis.call('ZRANGE', set, 0, -1)) do
    redis.call('DEL', W.delivery(P, id, ev))
    redis.call('ZREM', KEYS[1], id .. '/' .. ev)
  end
end
redis.call('DEL', pending, log, key)
redis.call('ZREM', W.endpoints(P), id)
table.insert(out, 1, 'OK')
return out
