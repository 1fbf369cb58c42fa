--[[ offer_claim: what should the device be offered now? Called by the pod holding the device.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 deviceId, 3 grace ms
Returns  {} when there is nothing to offer now, else
         {rolloutId, attempt, deadlineAt, ackTimeoutMs, patchId, name, version, notes, artifact}
Starts the oldest queued delivery if the device has no active one (queued -> offered, attempt+1),
starts a retry whose backoff has passed, or returns the in-flight offer unchanged (re-sent after a
reconnect; the device dedupes by deliveryId and attempt).
]]
-- @include time
-- @include common
local B, dev, grace = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local devkey = B .. 'dev:' .. dev
if redis.call('HGET', devkey, 'online') ~= '1' then return {} end

local active = redis.call('HGET', devkey, 'active') or ''
if active == '' then
  local q = B .. 'q:' .. dev
  active = redis.call('ZRANGE', q, 0, 0)[1]
  if not active then
    reschedule(B, dev, now, grace)
    return {}
  end
  redis.call('ZREM', q, active)
  redis.call('HSET', devkey, 'active', active)
end

local k = delivery_key(B, active, dev)
local d = redis.call('HMGET', k, 'state', 'attempt', 'deadline', 'retryAt')
local state, attempt, deadline = d[1], tonumber(d[2]), tonumber(d[3])
local ro = redis.call('HMGET', B .. 'ro:' .. active, 'ackTimeoutMs', 'patchId', 'name', 'version', 'notes', 'artifact')
if state == 'queued' then
  if (tonumber(d[4]) or 0) > now then
    reschedule(B, dev, now, grace)
    return {}
  end
  attempt = attempt + 1
  deadline = now + tonumber(ro[1])
  redis.call('HSET', k, 'attempt', attempt, 'deadline', deadline, 'retryAt', 0)
  set_state(B, active, dev, 'queued', 'offered', attempt, false, now)
elseif not INFLIGHT[state] then
  -- active must name an open delivery; repair rather than offer something finished
  redis.call('HSET', devkey, 'active', '')
  reschedule(B, dev, now, grace)
  return {}
end
reschedule(B, dev, now, grace)
return { active, attempt, deadline, tonumber(ro[1]), ro[2], ro[3], ro[4], ro[5], ro[6] }
