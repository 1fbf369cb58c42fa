--[[ delivery_report: a device reports progress or the outcome of one attempt.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 deviceId, 3 rolloutId, 4 attempt, 5 status (downloading | installing |
         installed | succeeded | failed | canceled), 6 error ('' if none), 7 grace ms,
         8 firmware version the device runs ('' unless succeeded), 9 '1' when the install was rebuilt from
         the offer's delta (with installed or succeeded)
Returns  {'OK', state, attempt, duplicate (0/1), offerable (0/1), slot ('hold' | 'release' | '')}
         {'ERR', code, message}: NOT_FOUND | STALE_ATTEMPT | DELIVERY_FINISHED | INVALID_TRANSITION
Compare-and-set on the attempt: a report for another attempt, or for a finished delivery, changes
nothing. Repeating an accepted report is harmless (duplicate = 1). Progress never moves backwards;
progress within the state the delivery is in moves its deadline on (a long download stays alive).
`installed` waits for the device to come back running the new version (verifying); `succeeded`
is verified at once against the version the device says it runs. A success for the attempt that
just timed out or failed is still accepted when it names the patch's version: the device did
install it; one naming another version again is a duplicate (its failure was counted once).
]]
-- @include time
-- @include scheduling
local B, dev, rid = ARGV[1], ARGV[2], ARGV[3]
local attempt, status, err, grace, running = tonumber(ARGV[4]), ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8]
local from_delta = ARGV[9] == '1'
local RANK = { queued = 0, offered = 1, downloading = 2, installing = 3, verifying = 4 }
local TARGET = { downloading = 'downloading', installing = 'installing', installed = 'verifying' }
local now = now_ms()
local k = K.delivery(B, rid, dev)
-- Everything this script reads of the delivery, at once.
local d = redis.call('HMGET', k, 'state', 'attempt', 'cancelReq', 'winOpens', 'winEnd', 'wave', 'winWait', 'hn')
if not d[1] then
  -- Finished and compacted: a repeated final report is still told apart from a wrong one.
  local done = archived(B, rid, dev)
  if not done then return { 'ERR', 'NOT_FOUND', 'no delivery of rollout ' .. rid .. ' for this device' } end
  d[1], d[2] = done[1], done[2]
end
local state, current = d[1], tonumber(d[2])
local win_opens, win_end = tonumber(d[4]) or 0, tonumber(d[5]) or 0
local known = { d[6], d[7], d[8] or 0 }
if FINAL[state] then
  if status == state and attempt == current then return { 'OK', state, current, 1, 0, '' } end
  return { 'ERR', 'DELIVERY_FINISHED', 'delivery already ' .. state }
end
if attempt ~= current then
  return { 'ERR', 'STALE_ATTEMPT', 'attempt ' .. attempt .. ' is not the current attempt ' .. current }
end
if state == 'queued' then
  if status ~= 'succeeded' then
    return { 'ERR', 'STALE_ATTEMPT', 'attempt ' .. attempt .. ' timed out; wait for the next offer' }
  end
  -- The attempt already ended: a success counts only if it proves the patch's version. Another
  -- version (a rolled-back report sent again after a lost answer) was counted already.
  if running ~= rollout(B, rid).version then return { 'OK', state, current, 1, 0, '' } end
end
if status == 'canceled' and tonumber(d[3]) ~= attempt then
  return { 'ERR', 'INVALID_TRANSITION', 'no cancel was requested for attempt ' .. attempt }
end
if (status == 'installing' or status == 'installed' or status == 'succeeded') and win_opens > now then
  return { 'ERR', 'INVALID_TRANSITION', 'the maintenance window of attempt ' .. attempt .. ' opens at ' .. win_opens }
end
local ro = rollout(B, rid)
-- The device is read once and written once (finish adds clearing its active delivery to the write).
local devkey = K.device(B, dev)
local dv = redis.call('HMGET', devkey, 'active', 'online', 'node', 'firmware')
local device = { active = dv[1] or '', online = dv[2], node = dv[3], write = { 'HSET', devkey, 'lastSeen', now } }
if from_delta and RANK[state] < RANK.verifying
    and (status == 'installed' or (status == 'succeeded' and running == ro.version)) then
  -- Rebuilt from the delta for the version it ran when offered (its firmware changes only below).
  local saved = tonumber(redis.call('HGET', K.rollout(B, rid), 'deltaSaved:' .. (dv[4] or '')))
  if saved then
    redis.call('HINCRBY', K.counts(B, rid), 'deltaInstalls', 1)
    redis.call('HINCRBY', K.counts(B, rid), 'deltaSaved', saved)
  end
end
if status == 'succeeded' then
  -- The device says what it runs now: the inventory shows it without waiting for a re-registration.
  local w = device.write
  w[#w + 1] = 'firmware'
  w[#w + 1] = running
end

local new_state
local known_device = device
if TARGET[status] then
  new_state = TARGET[status]
  local progress = RANK[new_state] == RANK[state] and new_state ~= 'verifying'
  if RANK[new_state] < RANK[state] or (RANK[new_state] == RANK[state] and not progress) then
    redis.call(unpack(device.write))
    return { 'OK', state, current, 1, 0, '' }
  end
  local deadline = now + ro.ack
  -- Until the install begins, the attempt lives no longer than the device's maintenance window.
  if new_state == 'downloading' and win_end > 0 then
    -- Downloaded ahead, it may wait quietly for its window to open; never past its close.
    deadline = math.min(math.max(deadline, win_opens + ro.ack), win_end)
  end
  if progress then
    -- More progress in the same state: the device is at work, so its deadline (and a limited
    -- rollout's slot lease) moves on; no transition, no history.
    redis.call('HSET', k, 'deadline', deadline)
    redis.call(unpack(device.write))
    reschedule(B, dev, now, grace, device)
    return { 'OK', state, current, 0, 0, ro.limited and 'hold' or '' }
  end
  set_state(B, rid, dev, state, new_state, attempt, false, now, known[1] or '0', { 'deadline', deadline }, known[3])
elseif status == 'succeeded' then
  if running == ro.version then
    finish(B, rid, dev, state, 'succeeded', attempt, false, now, known, device)
    new_state = 'succeeded'
  else
    known_device = nil
    new_state = fail_attempt(B, rid, dev, state, attempt,
      'rolled back: device runs ' .. running .. ', expected ' .. ro.version, now)
  end
elseif status == 'canceled' then
  finish(B, rid, dev, state, 'canceled', attempt, 'canceled by the device on request', now, known, device)
  new_state = 'canceled'
else
  known_device = nil
  new_state = fail_attempt(B, rid, dev, state, attempt, err, now)
end
redis.call(unpack(device.write))
local offerable = reschedule(B, dev, now, grace, known_device)
local slot = ''
if ro.limited then slot = INFLIGHT[new_state] and 'hold' or 'release' end
return { 'OK', new_state, attempt, 0, offerable and 1 or 0, slot }
