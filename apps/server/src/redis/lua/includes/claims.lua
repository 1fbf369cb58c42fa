-- What device `dev` should get now (see offer_claim.lua for the replies). Shared by offer_claim and
-- offer_claim_many.
-- @include scheduling
-- @include windows

-- The patch a rollout offers a device running `firmware` (with the delta for it, if any), read once
-- per script call for each rollout and firmware: a claim of 100 devices reads it once.
local OFFERED_PATCH = {}
local function offered_patch(B, rid, firmware)
  local key = rid .. '|' .. firmware
  local p = OFFERED_PATCH[key]
  if not p then
    p = redis.call('HMGET', K.rollout(B, rid), 'patchId', 'name', 'version', 'notes', 'artifact', 'signature',
      'delta:' .. firmware)
    OFFERED_PATCH[key] = p
  end
  return p
end

-- `batch`: a script's batch (new_batch) for the offer's counter and due entry, or nil to write them
-- at once.
local function claim_offer(B, dev, grace, grant, conn, now, batch)
  local devkey = K.device(B, dev)
  local presence = redis.call('HMGET', devkey, 'online', 'conn', 'firmware', 'active', 'node')
  if presence[1] ~= '1' then return { 'NONE' } end
  if conn ~= '' and presence[2] ~= conn then return { 'NONE' } end

  local active = presence[4] or ''
  if active ~= '' then
    local k = K.delivery(B, active, dev)
    local d = redis.call('HMGET', k, 'state', 'attempt', 'retryAt', 'cancelReq')
    local attempt = tonumber(d[2])
    if d[1] == 'verifying' then return { 'NONE' } end
    if INFLIGHT[d[1]] then
      if tonumber(d[4]) == attempt then return { 'CANCEL', active, attempt } end
    elseif not startable(rollout(B, active), k) then
      -- paused while waiting to retry: let other rollouts' work go first
      redis.call('HSET', devkey, 'active', '')
      redis.call('ZADD', K.queue(B, dev), rollout(B, active).seq, active)
      active = ''
    elseif (tonumber(d[3]) or 0) > now then
      reschedule(B, dev, now, grace)
      return { 'NONE' }
    end
  end
  local picked = active == ''
  local d
  if picked then
    local _
    active, _, d = next_delivery(B, dev, grant, '')
    if not active then
      reschedule(B, dev, now, grace, { active = '', online = '1', node = presence[5] })
      return { 'NONE' }
    end
  end

  local k = K.delivery(B, active, dev)
  d = d or claim_fields(k)
  if picked and d.retryAt > now then
    -- a retry that gave way while its rollout was paused: it becomes active again and waits
    redis.call('ZREM', K.queue(B, dev), active)
    redis.call('HSET', devkey, 'active', active)
    reschedule(B, dev, now, grace)
    return { 'NONE' }
  end
  local state, attempt, deadline = d.state, d.attempt, d.deadline
  local win_opens, win_end, wave, win_wait = d.winOpens, d.winEnd, d.wave, d.winWait
  local ro = rollout(B, active)
  local opens, closes = window_of(B, ro, dev, now)
  if state == 'queued' then
    if opens and opens > now and not ro.downloadAhead then
      -- Outside the device's maintenance window: its work waits, active, until the window opens
      -- (before any slot is taken: a waiting device holds no place of a limited rollout).
      mark_window_wait(B, active, k, true, win_wait, wave)
      redis.call('ZREM', K.queue(B, dev), active)
      redis.call('HSET', devkey, 'active', active)
      redis.call('HSET', k, 'retryAt', opens)
      reschedule(B, dev, now, grace)
      return { 'NONE' }
    end
    if ro.limited and grant ~= active then return { 'SLOT', active } end
    mark_window_wait(B, active, k, false, win_wait, wave)
    attempt = attempt + 1
    deadline = now + ro.ack
    -- Downloading ahead, the device may stay quiet until its window opens.
    if opens and opens > now then deadline = opens + ro.ack end
    -- Until the install begins, the attempt lives no longer than the window (the sweeper requeues it).
    if closes then deadline = math.min(deadline, closes) end
    redis.call('ZREM', K.queue(B, dev), active)
    redis.call('HSET', devkey, 'active', active)
    win_opens, win_end = opens or 0, closes or 0
    set_state(B, active, dev, 'queued', 'offered', attempt, false, now, wave, { 'attempt', attempt,
      'deadline', deadline, 'retryAt', 0, 'parked', 0, 'winOpens', win_opens, 'winEnd', win_end }, d.hn, batch)
  end
  -- In flight now (offered, or re-offered as it is): next due at its deadline (reschedule's answer).
  if batch then
    batch.due[#batch.due + 1] = deadline
    batch.due[#batch.due + 1] = dev
  else
    redis.call('ZADD', K.due(B), deadline, dev)
  end
  -- The delta for the version the device runs, if the rollout has one (rollout_attach wrote them).
  local p = offered_patch(B, active, presence[3] or '')
  return { 'OFFER', active, attempt, deadline, ro.ack, p[1], p[2], p[3], p[4], p[5], p[6] or '',
    win_opens, win_end, p[7] or '' }
end
