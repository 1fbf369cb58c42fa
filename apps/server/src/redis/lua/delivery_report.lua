--[[ delivery_report: a device reports progress or the outcome of one attempt.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 deviceId, 3 rolloutId, 4 attempt, 5 status
         (downloading|installing|succeeded|failed), 6 error ('' if none), 7 grace ms
Returns  {'OK', state, attempt, duplicate (0/1), offerable (0/1)}
         {'ERR', code, message} with code NOT_FOUND | STALE_ATTEMPT | DELIVERY_FINISHED
Compare-and-set on the attempt: a report for another attempt, or for a finished delivery, changes
nothing. Repeating an accepted report is harmless (duplicate = 1). Progress never moves backwards.
A success reported for the attempt that just timed out is still accepted: the device did install it.
]]
-- @include time
-- @include common
local B, dev, rid = ARGV[1], ARGV[2], ARGV[3]
local attempt, status, err, grace = tonumber(ARGV[4]), ARGV[5], ARGV[6], tonumber(ARGV[7])
local RANK = { queued = 0, offered = 1, downloading = 2, installing = 3 }
local now = now_ms()
local k = delivery_key(B, rid, dev)
if redis.call('EXISTS', k) == 0 then
  return { 'ERR', 'NOT_FOUND', 'no delivery of rollout ' .. rid .. ' for this device' }
end
local d = redis.call('HMGET', k, 'state', 'attempt')
local state, current = d[1], tonumber(d[2])
if FINAL[state] then
  if status == state and attempt == current then
    return { 'OK', state, current, 1, 0 }
  end
  return { 'ERR', 'DELIVERY_FINISHED', 'delivery already ' .. state }
end
if attempt ~= current then
  return { 'ERR', 'STALE_ATTEMPT', 'attempt ' .. attempt .. ' is not the current attempt ' .. current }
end
if state == 'queued' and status ~= 'succeeded' then
  return { 'ERR', 'STALE_ATTEMPT', 'attempt ' .. attempt .. ' timed out; wait for the next offer' }
end
redis.call('HSET', B .. 'dev:' .. dev, 'lastSeen', now)

local new_state = status
if status == 'downloading' or status == 'installing' then
  if RANK[status] <= RANK[state] then
    return { 'OK', state, current, 1, 0 }
  end
  local ack = tonumber(redis.call('HGET', B .. 'ro:' .. rid, 'ackTimeoutMs'))
  redis.call('HSET', k, 'deadline', now + ack)
  set_state(B, rid, dev, state, status, attempt, false, now)
elseif status == 'succeeded' then
  set_state(B, rid, dev, state, 'succeeded', attempt, false, now)
  redis.call('HSET', B .. 'dev:' .. dev, 'active', '')
else
  new_state = fail_attempt(B, rid, dev, state, attempt, err, now)
end
local offerable = reschedule(B, dev, now, grace)
return { 'OK', new_state, attempt, 0, offerable and 1 or 0 }
