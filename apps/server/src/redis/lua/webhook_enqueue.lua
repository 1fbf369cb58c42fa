--[[ webhook_enqueue: fans entries of one event stream out into deliveries, one per (endpoint, event)
for every endpoint whose patterns match and that existed when the event happened, and moves the
stream's cursor past them. Compare-and-set on the cursor, and a delivery is made only once: a pod
that died between reading the stream and this call, or a resend, makes no duplicates. An endpoint's
backlog holds at most `max backlog` deliveries: past it the oldest are dropped, and counted.
Disabled endpoints queue too (sent when enabled), but nothing of theirs is due.
KEYS[1]  cursors hash (stream tag -> last entry fanned out)
ARGV     1 P webhook key prefix, 2 stream tag, 3 max backlog per endpoint, 4 finished deliveries kept per
         endpoint, then per entry (in stream order) 5 stream entry id, 6 event id, 7 event type,
         8 event time ms, 9 JSON body
Returns  {'OK', deliveries made, {endpoint id, deliveries dropped, ...}}
]]
-- @include time
-- @include webhooks
local P, tag, max_backlog, keep = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local due = W.due(P)
local now = now_ms()

local function after(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end

local function matches(patterns, type)
  for p in string.gmatch(patterns, '[^,]+') do
    if p == '*' or p == type then return true end
    if string.sub(p, -2) == '.*' and string.sub(type, 1, #p - 1) == string.sub(p, 1, -2) then return true end
  end
  return false
end

local endpoints = {}
for _, id in ipairs(redis.call('ZRANGE', W.endpoints(P), 0, -1)) do
  local f = redis.call('HMGET', W.endpoint(P, id), 'events', 'createdAt', 'enabled')
  if f[1] then
    endpoints[#endpoints + 1] = { id = id, events = f[1], createdAt = tonumber(f[2]), enabled = f[3] == '1' }
  end
end

local dropped, made = {}, 0
local function drop_oldest(ep)
  local pending = W.pending(P, ep)
  local over = redis.call('ZCARD', pending) - max_backlog
  if over <= 0 then return end
  for _, ev in ipairs(redis.call('ZRANGE', pending, 0, over - 1)) do
    redis.call('HSET', W.delivery(P, ep, ev), 'lastError', 'dropped: the backlog held ' .. max_backlog)
    wh_finish(P, due, ep, ev, 'dropped', now, keep)
  end
  redis.call('HINCRBY', W.endpoint(P, ep), 'dropped', over)
  redis.call('HSET', W.endpoint(P, ep), 'droppedAt', now)
  dropped[ep] = (dropped[ep] or 0) + over
end

local cursor = redis.call('HGET', KEYS[1], tag) or '0-0'
for i = 5, #ARGV, 5 do
  local entry, ev, type, at, body = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4]
  if after(entry, cursor) then
    for _, ep in ipairs(endpoints) do
      local k = W.delivery(P, ep.id, ev)
      if ep.createdAt <= at and matches(ep.events, type) and redis.call('EXISTS', k) == 0 then
        redis.call('HSET', k, 'event', ev, 'type', type, 'at', at, 'body', body, 'state', 'pending', 'attempts', 0,
          'lease', 0, 'createdAt', now, 'lastStatus', 0, 'lastError', '')
        redis.call('ZADD', W.pending(P, ep.id), at, ev)
        if ep.enabled then redis.call('ZADD', due, now, ep.id .. '/' .. ev) end
        made = made + 1
        drop_oldest(ep.id)
      end
    end
    cursor = entry
  end
end
redis.call('HSET', KEYS[1], tag, cursor)
local drops = {}
for ep, n in pairs(dropped) do
  drops[#drops + 1] = ep
  drops[#drops + 1] = n
end
return { 'OK', made, drops }
