-- When a device next needs attention: what may start, the bucket's due set, presence.
-- @include deliveries

-- A delivery's fields a claim needs, read at once (next_delivery reads them for the claim).
local CLAIM_FIELDS = { 'state', 'attempt', 'deadline', 'winOpens', 'winEnd', 'wave', 'winWait', 'retryAt', 'hn',
  'parked' }
local function claim_fields(k)
  local f = redis.call('HMGET', k, unpack(CLAIM_FIELDS))
  return { state = f[1], attempt = tonumber(f[2]), deadline = tonumber(f[3]), winOpens = tonumber(f[4]) or 0,
    winEnd = tonumber(f[5]) or 0, wave = f[6] or '0', winWait = f[7] == '1', retryAt = tonumber(f[8]) or 0,
    hn = f[9] or 0, parked = f[10] == '1' }
end

-- Whether a queued delivery may start now as far as this bucket knows (status and wave, and not
-- parked waiting for a slot unless `granted`); rate and in-flight limits are the rollout's,
-- checked by the pod before it claims. `d`: the delivery's claim_fields.
local function startable_fields(ro, d, granted)
  return ro.status == 'active' and tonumber(d.wave) <= ro.openWave and (granted or not d.parked)
end

local function startable(ro, k, granted)
  if ro.status ~= 'active' then return false end
  local d = redis.call('HMGET', k, 'wave', 'parked')
  return tonumber(d[1]) <= ro.openWave and (granted or d[2] ~= '1')
end

-- The delivery this device would start next, if any: its active one, else the oldest queued one
-- whose rollout lets it start (then also its claim_fields). `grant` names a rollout for which the
-- pod holds a fresh slot; `active`, the device's active delivery when the caller has read it ('' for
-- none).
local function next_delivery(B, dev, grant, active)
  active = active or redis.call('HGET', K.device(B, dev), 'active') or ''
  if active ~= '' then return active, true end
  for _, rid in ipairs(redis.call('ZRANGE', K.queue(B, dev), 0, -1)) do
    local ro = rollout(B, rid)
    -- Gated rollouts are skipped without reading the delivery.
    if ro.status == 'active' then
      local d = claim_fields(K.delivery(B, rid, dev))
      if startable_fields(ro, d, rid == grant) then return rid, false, d end
    end
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
-- Returns true when the device has work it could be offered right now, then whether it is online
-- and the pod instance holding it (read anyway: callers that hint need them).
-- `device`: {active, online, node} when the caller knows them as they are now (else read here).
local function reschedule(B, dev, now, grace, device)
  local f = device and { device.active, device.online, device.node }
    or redis.call('HMGET', K.device(B, dev), 'active', 'online', 'node')
  local active, online = f[1] or '', f[2] == '1'
  local due, offerable = false, false
  if active ~= '' then
    local k = K.delivery(B, active, dev)
    local d = redis.call('HMGET', k, 'state', 'deadline', 'retryAt')
    if INFLIGHT[d[1]] then
      due = tonumber(d[2])
    elseif d[1] == 'queued' then
      local retry_at = tonumber(d[3]) or 0
      if retry_at > now then due = retry_at else offerable = startable(rollout(B, active), k) end
    end
  else
    offerable = next_delivery(B, dev, '', '') ~= nil
  end
  if offerable and online then due = now + grace end
  if due then
    redis.call('ZADD', K.due(B), due, dev)
  else
    redis.call('ZREM', K.due(B), dev)
  end
  return offerable, online, f[3]
end

-- reschedule for a device that just got a queued delivery of rollout `ro` in `wave`. When the
-- device has no active delivery and the new one may start, it is offerable whatever else is
-- queued, which spares reading the queue; otherwise the whole recompute. `due`: where an online
-- device's due entry (score, member) is collected for the caller to write. `f`: the device's
-- {active, online, node}, read by the caller in this script before any change to them.
local function reschedule_created(B, dev, ro, wave, now, grace, due, f)
  f = f or redis.call('HMGET', K.device(B, dev), 'active', 'online', 'node')
  if (f[1] or '') ~= '' or ro.status ~= 'active' or wave > ro.openWave then
    return reschedule(B, dev, now, grace, { active = f[1], online = f[2], node = f[3] })
  end
  if f[2] ~= '1' then
    redis.call('ZREM', K.due(B), dev)
    return true, false, f[3]
  end
  due[#due + 1] = now + grace
  due[#due + 1] = dev
  return true, true, f[3]
end

-- Marks dev offline if it is still held by the given connection (connId) or pod instance
-- (node); a newer connection elsewhere wins. Returns 1 if it changed anything.
-- Its work parked for a slot is un-parked: parked means "the pod holding the device retries it",
-- and no pod holds it now. Whoever holds it next (a reconnect, or its pod putting it back online
-- after being declared dead by mistake) finds the work offerable and parks it again if need be.
local function mark_offline(B, dev, field, value, now, grace)
  local devkey = K.device(B, dev)
  local f = redis.call('HMGET', devkey, field, 'active')
  if f[1] ~= value then return 0 end
  redis.call('HSET', devkey, 'online', 0, 'node', '', 'conn', '', 'lastSeen', now)
  redis.call('HDEL', K.online(B), dev)
  local rids = redis.call('ZRANGE', K.queue(B, dev), 0, -1)
  local active = f[2] or ''
  if active ~= '' then rids[#rids + 1] = active end
  for _, rid in ipairs(rids) do
    local k = K.delivery(B, rid, dev)
    if redis.call('HGET', k, 'parked') == '1' then redis.call('HSET', k, 'parked', 0) end
  end
  reschedule(B, dev, now, grace, { active = active, online = '0', node = '' })
  return 1
end
