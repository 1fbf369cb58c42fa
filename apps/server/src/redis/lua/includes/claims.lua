-- What device `dev` should get now (see offer_claim.lua for the replies). Shared by offer_claim and
-- offer_claim_many.
-- @include scheduling
-- @include windows

local function claim_offer(B, dev, grace, grant, conn, now)
  local devkey = K.device(B, dev)
  local presence = redis.call('HMGET', devkey, 'online', 'conn', 'firmware')
  if presence[1] ~= '1' then return { 'NONE' } end
  if conn ~= '' and presence[2] ~= conn then return { 'NONE' } end

  local active = redis.call('HGET', devkey, 'active') or ''
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
  if active == '' then
    active = next_delivery(B, dev, grant)
    if not active then
      reschedule(B, dev, now, grace)
      return { 'NONE' }
    end
    if (tonumber(redis.call('HGET', K.delivery(B, active, dev), 'retryAt')) or 0) > now then
      -- a retry that gave way while its rollout was paused: it becomes active again and waits
      redis.call('ZREM', K.queue(B, dev), active)
      redis.call('HSET', devkey, 'active', active)
      reschedule(B, dev, now, grace)
      return { 'NONE' }
    end
  end

  local k = K.delivery(B, active, dev)
  local d = redis.call('HMGET', k, 'state', 'attempt', 'deadline')
  local state, attempt, deadline = d[1], tonumber(d[2]), tonumber(d[3])
  local ro = rollout(B, active)
  local opens, closes = window_of(B, ro, dev, now)
  if state == 'queued' then
    if opens and opens > now and not ro.downloadAhead then
      -- Outside the device's maintenance window: its work waits, active, until the window opens
      -- (before any slot is taken: a waiting device holds no place of a limited rollout).
      mark_window_wait(B, active, k, true)
      redis.call('ZREM', K.queue(B, dev), active)
      redis.call('HSET', devkey, 'active', active)
      redis.call('HSET', k, 'retryAt', opens)
      reschedule(B, dev, now, grace)
      return { 'NONE' }
    end
    if ro.limited and grant ~= active then return { 'SLOT', active } end
    mark_window_wait(B, active, k, false)
    attempt = attempt + 1
    deadline = now + ro.ack
    -- Downloading ahead, the device may stay quiet until its window opens.
    if opens and opens > now then deadline = opens + ro.ack end
    -- Until the install begins, the attempt lives no longer than the window (the sweeper requeues it).
    if closes then deadline = math.min(deadline, closes) end
    redis.call('ZREM', K.queue(B, dev), active)
    redis.call('HSET', devkey, 'active', active)
    redis.call('HSET', k, 'attempt', attempt, 'deadline', deadline, 'retryAt', 0, 'parked', 0,
      'winOpens', opens or 0, 'winEnd', closes or 0)
    set_state(B, active, dev, 'queued', 'offered', attempt, false, now)
  end
  reschedule(B, dev, now, grace)
  -- The delta for the version the device runs, if the rollout has one (rollout_attach wrote them).
  local p = redis.call('HMGET', K.rollout(B, active), 'patchId', 'name', 'version', 'notes', 'artifact', 'signature',
    'delta:' .. (presence[3] or ''))
  local w = redis.call('HMGET', k, 'winOpens', 'winEnd')
  return { 'OFFER', active, attempt, deadline, ro.ack, p[1], p[2], p[3], p[4], p[5], p[6] or '',
    tonumber(w[1]) or 0, tonumber(w[2]) or 0, p[7] or '' }
end
