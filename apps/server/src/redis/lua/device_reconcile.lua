--[[ device_reconcile: the pod holding a device's open connection checks that Redis agrees with it
(the periodic safety net behind lost hints and reaping races).
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 deviceId, 3 pod instance, 4 connection id, 5 grace ms
Returns  {restored (1 if the device was marked offline and is now online again on this connection),
          offerable (1 if it was restored and has work it could be offered now),
          rolloutId of a delivery parked waiting for a slot that would start next ('' if none)}
Changes nothing when the device is online on this connection already, or when a newer connection
holds it (online with another connection id, or offline but recorded with another one).
]]
-- @include time
-- @include common
local B, dev, instance, conn, grace = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local devkey = B .. 'dev:' .. dev
local f = redis.call('HMGET', devkey, 'online', 'conn', 'active')
if f[1] == false then return { 0, 0, '' } end
local restored, offerable = 0, 0
if f[1] == '1' then
  if f[2] ~= conn then return { 0, 0, '' } end
elseif f[2] and f[2] ~= '' and f[2] ~= conn then
  return { 0, 0, '' }
else
  redis.call('HSET', devkey, 'online', 1, 'node', instance, 'conn', conn)
  redis.call('HSET', B .. 'online', dev, instance)
  restored = 1
  offerable = reschedule(B, dev, now_ms(), grace) and 1 or 0
end

-- The delivery that would start next, if only it were not parked.
local parked = ''
local active = f[3] or ''
if active ~= '' then
  local k = delivery_key(B, active, dev)
  local d = redis.call('HMGET', k, 'state', 'parked')
  if d[1] == 'queued' and d[2] == '1' and startable(rollout(B, active), k, true) then parked = active end
else
  for _, rid in ipairs(redis.call('ZRANGE', B .. 'q:' .. dev, 0, -1)) do
    local k = delivery_key(B, rid, dev)
    if startable(rollout(B, rid), k, true) then
      if redis.call('HGET', k, 'parked') == '1' then parked = rid end
      break
    end
  end
end
return { restored, offerable, parked }
