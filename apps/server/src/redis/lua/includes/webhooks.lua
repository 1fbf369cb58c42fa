-- Webhook deliveries: one event to one endpoint, id `<endpoint id>/<event id>` (its member in the
-- due set, and the X-Camfleet-Delivery header). Every webhook key is fleet-wide (`{g}`).
-- @include webhook_keys

-- The endpoint and event a delivery id names.
local function wh_split(delivery_id)
  return string.match(delivery_id, '^([^/]+)/(.+)$')
end

-- Drops the oldest finished deliveries beyond `keep` from the endpoint's log (and their records).
local function wh_trim_log(P, ep, keep)
  local log = W.log(P, ep)
  local over = redis.call('ZCARD', log) - keep
  if over <= 0 then return end
  for _, ev in ipairs(redis.call('ZRANGE', log, 0, over - 1)) do
    redis.call('DEL', W.delivery(P, ep, ev))
  end
  redis.call('ZREMRANGEBYRANK', log, 0, over - 1)
end

-- Ends a delivery (delivered, failed or dropped): out of the due set and the backlog, into the log;
-- its body goes (it is never sent again).
local function wh_finish(P, due, ep, ev, state, now, keep)
  local k = W.delivery(P, ep, ev)
  redis.call('HSET', k, 'state', state, 'finishedAt', now)
  redis.call('HDEL', k, 'body')
  redis.call('ZREM', due, ep .. '/' .. ev)
  redis.call('ZREM', W.pending(P, ep), ev)
  redis.call('ZADD', W.log(P, ep), now, ev)
  wh_trim_log(P, ep, keep)
end

-- The endpoint's fields for an answer, without its secret.
local function wh_fields(key)
  local fields = redis.call('HGETALL', key)
  local out = {}
  for i = 1, #fields, 2 do
    if fields[i] ~= 'secret' then
      out[#out + 1] = fields[i]
      out[#out + 1] = fields[i + 1]
    end
  end
  return out
end
