-- Shared helpers for the bucket scripts. Every key a bucket script touches starts with the
-- bucket prefix B (ARGV[1]), which carries the bucket's hash tag, so one script stays in one slot.
-- Needs: time.

local INFLIGHT = { offered = true, downloading = true, installing = true, verifying = true }
local FINAL = { succeeded = true, failed = true, canceled = true }
local HISTORY_MAX = 50
-- Each bucket keeps about this many delivery events (the event stream is bounded).
local EVENTS_MAX = 5000

local function delivery_key(B, rid, dev)
  return B .. 'd:' .. rid .. ':' .. dev
end

local function nullable(value)
  if value == nil or value == false or value == '' then return cjson.null end
  return value
end

-- The bucket's copy of a rollout, as a table.
local function rollout(B, rid)
  local f = redis.call('HMGET', B .. 'ro:' .. rid, 'status', 'openWave', 'limited', 'ackTimeoutMs', 'version',
    'seq', 'maxAttempts', 'patchId', 'waves', 'target', 'selector', 'supersede')
  return {
    status = f[1], openWave = tonumber(f[2]) or 0, limited = f[3] == '1', ack = tonumber(f[4]) or 60000,
    version = f[5], seq = f[6], maxAttempts = f[7], patchId = f[8], waves = f[9], target = f[10],
    selector = f[11], supersede = f[12] == '1',
  }
end

local function history(B, dev, entry)
  local h = B .. 'h:' .. dev
  redis.call('LPUSH', h, cjson.encode(entry))
  redis.call('LTRIM', h, 0, HISTORY_MAX - 1)
end

-- Moves a delivery to a new state. Counters (per state and per wave) and history change in the
-- same step, so rollout counts are exact at every moment without scanning devices.
local function set_state(B, rid, dev, from, to, attempt, err, now)
  local k = delivery_key(B, rid, dev)
  redis.call('HSET', k, 'state', to, 'updatedAt', now)
  local counts = B .. 'c:' .. rid
  local wave = redis.call('HGET', k, 'wave') or '0'
  if from then
    redis.call('HINCRBY', counts, from, -1)
    redis.call('HINCRBY', counts, 'w' .. wave .. ':' .. from, -1)
  end
  redis.call('HINCRBY', counts, to, 1)
  redis.call('HINCRBY', counts, 'w' .. wave .. ':' .. to, 1)
  if FINAL[to] then
    redis.call('SREM', B .. 'open:' .. rid, dev)
    redis.call('HSET', k, 'finishedAt', now, 'retryAt', 0, 'deadline', 0, 'cancelReq', 0)
  end
  history(B, dev, { at = now, rolloutId = rid, attempt = attempt, from = nullable(from), to = to, error = nullable(err) })
  redis.call('XADD', B .. 'events', 'MAXLEN', '~', EVENTS_MAX, '*', 'kind', 'delivery', 'rid', rid, 'dev', dev,
    'attempt', attempt, 'from', from or '', 'to', to, 'error', err or '', 'at', now)
end

-- Stable wave of a device in a rollout: a hash of (rollout, device) placed on the cumulative
-- percentages, so a device in the 1% canary stays in it.
local function wave_of(rid, dev, waves)
  local point = (tonumber(string.sub(redis.sha1hex(rid .. '|' .. dev), 1, 8), 16) % 10000) / 100
  local i = 0
  for percent in string.gmatch(waves or '100', '[^,]+') do
    if point < tonumber(percent) then return i end
    i = i + 1
  end
  return i - 1
end

-- Whether the device matches the rollout's selector (the contracts' matchesSelector, in Lua).
local function selector_matches(selector_json, labels, model)
  for _, r in ipairs(cjson.decode(selector_json)) do
    local value = r.key == 'model' and model or labels[r.key]
    local ok
    if r.op == 'eq' then ok = value == r.value
    elseif r.op == 'ne' then ok = value ~= r.value
    elseif r.op == 'exists' then ok = value ~= nil
    elseif r.op == 'absent' then ok = value == nil
    else
      local found = false
      for _, v in ipairs(r.values) do if v == value then found = true end end
      if r.op == 'in' then ok = value ~= nil and found else ok = value == nil or not found end
    end
    if not ok then return false end
  end
  return true
end

-- Whether rollout rid targets dev now.
local function targets(B, rid, ro, dev)
  if ro.target == 'devices' then
    return redis.call('SISMEMBER', B .. 'ro-ids:' .. rid, dev) == 1
  elseif ro.target == 'selector' then
    local d = redis.call('HMGET', B .. 'dev:' .. dev, 'labels', 'model')
    return selector_matches(ro.selector, cjson.decode(d[1] or '{}'), d[2] or '')
  end
  return true
end

-- Cancels dev's queued, never-started deliveries of rollouts older than seq (supersede).
local function supersede_older(B, dev, seq, rid, now)
  local q = B .. 'q:' .. dev
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', q, '-inf', '(' .. seq)) do
    local k = delivery_key(B, old, dev)
    set_state(B, old, dev, redis.call('HGET', k, 'state'), 'canceled', tonumber(redis.call('HGET', k, 'attempt')),
      'superseded by ' .. rid, now)
    redis.call('ZREM', q, old)
  end
end

-- Creates the queued delivery of rollout rid for dev unless it exists. Returns 1 if created.
local function create_delivery(B, rid, ro, dev, now)
  local k = delivery_key(B, rid, dev)
  if redis.call('EXISTS', k) == 1 then return 0 end
  if ro.supersede then supersede_older(B, dev, ro.seq, rid, now) end
  redis.call('HSET', k, 'rid', rid, 'dev', dev, 'patchId', ro.patchId, 'state', 'queued', 'attempt', 0,
    'failures', 0, 'maxAttempts', ro.maxAttempts, 'lastError', '', 'createdAt', now, 'updatedAt', now,
    'retryAt', 0, 'deadline', 0, 'finishedAt', 0, 'wave', wave_of(rid, dev, ro.waves), 'cancelReq', 0, 'parked', 0)
  redis.call('ZADD', B .. 'q:' .. dev, ro.seq, rid)
  redis.call('ZADD', B .. 'dl:' .. dev, ro.seq, rid)
  redis.call('SADD', B .. 'open:' .. rid, dev)
  set_state(B, rid, dev, false, 'queued', 0, false, now)
  return 1
end

-- Removes a delivery that never started (its device stopped matching). Returns 1 if removed.
local function untarget(B, rid, dev)
  local k = delivery_key(B, rid, dev)
  local d = redis.call('HMGET', k, 'state', 'attempt', 'wave')
  if d[1] ~= 'queued' or tonumber(d[2]) ~= 0 then return 0 end
  if redis.call('HGET', B .. 'dev:' .. dev, 'active') == rid then return 0 end
  local counts = B .. 'c:' .. rid
  redis.call('HINCRBY', counts, 'queued', -1)
  redis.call('HINCRBY', counts, 'w' .. d[3] .. ':queued', -1)
  redis.call('DEL', k)
  redis.call('ZREM', B .. 'q:' .. dev, rid)
  redis.call('ZREM', B .. 'dl:' .. dev, rid)
  redis.call('SREM', B .. 'open:' .. rid, dev)
  return 1
end

-- Whether a queued delivery may start now as far as this bucket knows (status and wave, and not
-- parked waiting for a slot unless `granted`); rate and in-flight limits are the rollout's,
-- checked by the pod before it claims.
local function startable(ro, k, granted)
  if ro.status ~= 'active' then return false end
  local d = redis.call('HMGET', k, 'wave', 'parked')
  return tonumber(d[1]) <= ro.openWave and (granted or d[2] ~= '1')
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

local function finish(B, rid, dev, from, to, attempt, err, now)
  set_state(B, rid, dev, from, to, attempt, err, now)
  local devkey = B .. 'dev:' .. dev
  if redis.call('HGET', devkey, 'active') == rid then redis.call('HSET', devkey, 'active', '') end
end

-- A failed attempt (reported, timed out while connected, or rolled back): back off and retry, or
-- give up. A rollout that was canceled or aborted does not retry. Returns the new state.
local function fail_attempt(B, rid, dev, from, attempt, err, now)
  local k = delivery_key(B, rid, dev)
  local failures = redis.call('HINCRBY', k, 'failures', 1)
  redis.call('HSET', k, 'lastError', err)
  local status = redis.call('HGET', B .. 'ro:' .. rid, 'status')
  if failures >= tonumber(redis.call('HGET', k, 'maxAttempts')) or status == 'canceled' or status == 'aborted' then
    finish(B, rid, dev, from, 'failed', attempt, err, now)
    return 'failed'
  end
  redis.call('HSET', k, 'retryAt', now + backoff_ms(B, rid, dev, failures), 'deadline', 0)
  set_state(B, rid, dev, from, 'queued', attempt, err, now)
  return 'queued'
end

-- The delivery this device would start next, if any: its active one, else the oldest queued one
-- whose rollout lets it start. `grant` names a rollout for which the pod holds a fresh slot.
local function next_delivery(B, dev, grant)
  local active = redis.call('HGET', B .. 'dev:' .. dev, 'active') or ''
  if active ~= '' then return active, true end
  for _, rid in ipairs(redis.call('ZRANGE', B .. 'q:' .. dev, 0, -1)) do
    if startable(rollout(B, rid), delivery_key(B, rid, dev), rid == grant) then return rid, false end
  end
  return nil, false
end

-- Recomputes when this device next needs attention, in the bucket's `due` set:
--   in flight          -> its ack deadline (time out)
--   waiting on backoff -> its retry time
--   startable, online  -> now + grace (the holding pod should have offered it by then; if a hint
--                         was lost, the sweeper hints again)
--   otherwise          -> not due (offline devices get work when they connect; gated work when its
--                         rollout changes, which is broadcast)
-- Returns true when the device has work it could be offered right now.
local function reschedule(B, dev, now, grace)
  local f = redis.call('HMGET', B .. 'dev:' .. dev, 'active', 'online')
  local active, online = f[1] or '', f[2] == '1'
  local due, offerable = false, false
  if active ~= '' then
    local k = delivery_key(B, active, dev)
    local d = redis.call('HMGET', k, 'state', 'deadline', 'retryAt')
    if INFLIGHT[d[1]] then
      due = tonumber(d[2])
    elseif d[1] == 'queued' then
      local retry_at = tonumber(d[3]) or 0
      if retry_at > now then due = retry_at else offerable = startable(rollout(B, active), k) end
    end
  else
    offerable = next_delivery(B, dev, '') ~= nil
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
-- Its work parked for a slot is un-parked: parked means "the pod holding the device retries it",
-- and no pod holds it now. Whoever holds it next (a reconnect, or its pod putting it back online
-- after being declared dead by mistake) finds the work offerable and parks it again if need be.
local function mark_offline(B, dev, field, value, now, grace)
  local devkey = B .. 'dev:' .. dev
  if redis.call('HGET', devkey, field) ~= value then return 0 end
  redis.call('HSET', devkey, 'online', 0, 'node', '', 'conn', '', 'lastSeen', now)
  redis.call('HDEL', B .. 'online', dev)
  local rids = redis.call('ZRANGE', B .. 'q:' .. dev, 0, -1)
  local active = redis.call('HGET', devkey, 'active') or ''
  if active ~= '' then rids[#rids + 1] = active end
  for _, rid in ipairs(rids) do
    local k = delivery_key(B, rid, dev)
    if redis.call('HGET', k, 'parked') == '1' then redis.call('HSET', k, 'parked', 0) end
  end
  reschedule(B, dev, now, grace)
  return 1
end
