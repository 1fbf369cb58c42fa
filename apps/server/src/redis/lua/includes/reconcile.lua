-- device_reconcile's check of one device (see device_reconcile.lua for the reply).
-- @include time
-- @include scheduling

local function reconcile_device(B, dev, instance, conn, grace)
  local devkey = K.device(B, dev)
  local f = redis.call('HMGET', devkey, 'online', 'conn', 'active')
  if f[1] == false then return { 0, 0, '' } end
  local restored, offerable = 0, 0
  if f[1] == '1' then
    if f[2] ~= conn then return { 0, 0, '' } end
  elseif f[2] and f[2] ~= '' and f[2] ~= conn then
    return { 0, 0, '' }
  else
    redis.call('HSET', devkey, 'online', 1, 'node', instance, 'conn', conn)
    redis.call('HSET', K.online(B), dev, instance)
    restored = 1
    offerable = reschedule(B, dev, now_ms(), grace) and 1 or 0
  end

  -- The delivery that would start next, if only it were not parked.
  local parked = ''
  local active = f[3] or ''
  if active ~= '' then
    local k = K.delivery(B, active, dev)
    local d = redis.call('HMGET', k, 'state', 'parked')
    if d[1] == 'queued' and d[2] == '1' and startable(rollout(B, active), k, true) then parked = active end
  else
    for _, rid in ipairs(redis.call('ZRANGE', K.queue(B, dev), 0, -1)) do
      local k = K.delivery(B, rid, dev)
      if startable(rollout(B, rid), k, true) then
        if redis.call('HGET', k, 'parked') == '1' then parked = rid end
        break
      end
    end
  end
  return { restored, offerable, parked }
end
