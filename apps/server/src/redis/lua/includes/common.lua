-- Shared helpers for the bucket scripts. Every key a bucket script touches starts with the
-- bucket prefix B (ARGV[1]), which carries the bucket's hash tag, so one script stays in one slot.
-- Needs: time.

local INFLIGHT = { offered = true, downloading = true, installing = true }
local FINAL = { succeeded = true, failed = true, canceled = true }
local HISTORY_MAX = 50

local function delivery_key(B, rid, dev)
  return B .. 'd:' .. rid .. ':' .. dev
end

local function nullable(value)
  if value == nil or value == false or value == '' then return cjson.null end
  return value
end

-- Moves a delivery to a new state. Counters and history change in the same step, so
-- per-rollout counts are exact at every moment without scanning devices.
local function set_state(B, rid, dev, from, to, attempt, err, now)
  local k = delivery_key(B, rid, dev)
  redis.call('HSET', k, 'state', to, 'updatedAt', now)
  local counts = B .. 'c:' .. rid
  if from then redis.call('HINCRBY', counts, from, -1) end
  redis.call('HINCRBY', counts, to, 1)
  if FINAL[to] then
    redis.call('SREM', B .. 'open:' .. rid, dev)
    redis.call('HSET', k, 'finishedAt', now, 'retryAt', 0, 'deadline', 0)
  end
  local h = B .. 'h:' .. dev
  redis.call('LPUSH', h, cjson.encode({
    at = now, rolloutId = rid, attempt = attempt, from = nullable(from), to = to, error = nullable(err),
  }))
  redis.call('LTRIM', h, 0, HISTORY_MAX - 1)
end

-- Creates the queued delivery of rollout rid for dev unless it exists. Returns 1 if created.
local function create_delivery(B, rid, dev, now)
  local k = delivery_key(B, rid, dev)
  if redis.call('EXISTS', k) == 1 then return 0 end
  local ro = redis.call('HMGET', B .. 'ro:' .. rid, 'seq', 'maxAttempts', 'patchId')
  redis.call('HSET', k, 'rid', rid, 'dev', dev, 'patchId', ro[3], 'state', 'queued', 'attempt', 0,
    'failures', 0, 'maxAttempts', ro[2], 'lastError', '', 'createdAt', now, 'updatedAt', now,
    'retryAt', 0, 'deadline', 0, 'finishedAt', 0)
  redis.call('ZADD', B .. 'q:' .. dev, ro[1], rid)
  redis.call('ZADD', B .. 'dl:' .. dev, ro[1], rid)
  redis.call('SADD', B .. 'open:' .. rid, dev)
  set_state(B, rid, dev, false, 'queued', 0, false, now)
  return 1
end

-- Equal-jitter exponential backoff. The jitter is a hash of (device, rollout, attempt): spread
-- across devices, yet the same if a script is replayed.
local function backoff_ms(B, rid, dev, failures)
  local ro = redis.call('HMGET', B .. 'ro:' .. rid, 'backoffBaseMs', 'backoffMaxMs')
  local base, cap = tonumber(ro[1]), tonumber(ro[2])
  local delay = math.min(cap, base * 2 ^ (failures - 1))
  local frac = tonumber(string.sub(redis.sha1hex(dev .. '|' .. rid .. '|' .. failures), 1, 8), 16) / 4294967295
  return math.floor(delay / 2 + frac * delay / 2)
end

-- A failed attempt (reported, or timed out while connected): back off and retry, or give up.
-- Returns the new state.
local function fail_attempt(B, rid, dev, from, attempt, err, now)
  local k = delivery_key(B, rid, dev)
  local failures = redis.call('HINCRBY', k, 'failures', 1)
  redis.call('HSET', k, 'lastError', err)
  if failures >= tonumber(redis.call('HGET', k, 'maxAttempts')) then
    set_state(B, rid, dev, from, 'failed', attempt, err, now)
    redis.call('HSET', B .. 'dev:' .. dev, 'active', '')
    return 'failed'
  end
  redis.call('HSET', k, 'retryAt', now + backoff_ms(B, rid, dev, failures), 'deadline', 0)
  set_state(B, rid, dev, from, 'queued', attempt, err, now)
  return 'queued'
end

-- Recomputes when this device next needs attention, in the bucket's `due` set:
--   in flight          -> its ack deadline (time out)
--   waiting on backoff -> its retry time
--   offerable, online  -> now + grace (the holding pod should have offered it by then; if a hint
--                         was lost, the sweeper hints again)
--   otherwise          -> not due (an offline device gets its work when it connects)
-- Returns true when the device has work it could be offered right now.
local function reschedule(B, dev, now, grace)
  local f = redis.call('HMGET', B .. 'dev:' .. dev, 'active', 'online')
  local active, online = f[1] or '', f[2] == '1'
  local due, offerable = false, false
  if active ~= '' then
    local d = redis.call('HMGET', delivery_key(B, active, dev), 'state', 'deadline', 'retryAt')
    if INFLIGHT[d[1]] then
      due = tonumber(d[2])
    elseif d[1] == 'queued' then
      local retry_at = tonumber(d[3]) or 0
      if retry_at > now then due = retry_at else offerable = true end
    end
  elseif redis.call('ZCARD', B .. 'q:' .. dev) > 0 then
    offerable = true
  end
  if offerable and online then due = now + grace end
  if due then
    redis.call('ZADD', B .. 'due', due, dev)
  else
    redis.call('ZREM', B .. 'due', dev)
  end
  return offerable
end

-- Marks dev offline if it is still held by the given connection (connId) or pod instance
-- (node); a newer connection elsewhere wins. Returns 1 if it changed anything.
local function mark_offline(B, dev, field, value, now, grace)
  local devkey = B .. 'dev:' .. dev
  if redis.call('HGET', devkey, field) ~= value then return 0 end
  redis.call('HSET', devkey, 'online', 0, 'node', '', 'conn', '', 'lastSeen', now)
  redis.call('HDEL', B .. 'online', dev)
  reschedule(B, dev, now, grace)
  return 1
end
