-- What device `dev` should get now (see offer_claim.lua for the replies). Shared by offer_claim and
-- offer_claim_many.
-- @include scheduling

local function claim_offer(B, dev, grace, grant, conn, now)
  local devkey = K.device(B, dev)
  local presence = redis.call('HMGET', devkey, 'online', 'conn')
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
  if state == 'queued' then
    if ro.limited and grant ~= active then return { 'SLOT', active } end
    attempt = attempt + 1
    deadline = now + ro.ack
    redis.call('ZREM', K.queue(B, dev), active)
    redis.call('HSET', devkey, 'active', active)
    redis.call('HSET', k, 'attempt', attempt, 'deadline', deadline, 'retryAt', 0, 'parked', 0)
    set_state(B, active, dev, 'queued', 'offered', attempt, false, now)
  end
  reschedule(B, dev, now, grace)
  local p = redis.call('HMGET', K.rollout(B, active), 'patchId', 'name', 'version', 'notes', 'artifact', 'signature')
  return { 'OFFER', active, attempt, deadline, ro.ack, p[1], p[2], p[3], p[4], p[5], p[6] or '' }
end
