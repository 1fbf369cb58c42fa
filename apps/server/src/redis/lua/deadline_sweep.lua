--[[ deadline_sweep: claim this bucket's due devices and act on them. Any pod may run it; the
claim is the script itself (atomic), so two pods never both time out or retry one delivery.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 max devices per call, 3 grace ms
Returns  { {deviceId, podInstance, ...}  online devices with work to be offered now (to hint),
           {rolloutId, deviceId, ...}    slots to release (deliveries of limited rollouts that left flight),
           {rolloutId, ...},             rollouts with a delivery that finished (to re-evaluate gates)
           {claimed, timeouts, retries} } due devices claimed; attempts past their deadline; of those,
                                         attempts given another try (for the pod's metrics)
An attempt whose device's maintenance window closed before its install began goes back to the
queue, no attempt lost: it is offered again in the device's next window.
An attempt past its deadline times out: a failed attempt with backoff if the device is connected
(or was verifying: it did not come back with the new version), requeued uncounted if the device is
offline (it resumes when it reconnects). A canceled rollout's timed-out delivery ends.
]]
-- @include time
-- @include scheduling
local B, limit, grace = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local hints, released, finished = {}, {}, {}
local timeouts, retries = 0, 0
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
for _, dev in ipairs(due) do
  local f = redis.call('HMGET', K.device(B, dev), 'active', 'online', 'node')
  local active, online = f[1] or '', f[2] == '1'
  if active ~= '' then
    local k = K.delivery(B, active, dev)
    local d = redis.call('HMGET', k, 'state', 'deadline', 'attempt', 'winEnd')
    local window_closed = (d[1] == 'offered' or d[1] == 'downloading') and (tonumber(d[4]) or 0) > 0
      and now >= tonumber(d[4])
    if INFLIGHT[d[1]] and tonumber(d[2]) <= now then
      local ro = rollout(B, active)
      local attempt, new_state, retried = tonumber(d[3]), nil, false
      if not window_closed then timeouts = timeouts + 1 end
      if window_closed and ro.status ~= 'canceled' and ro.status ~= 'aborted' then
        redis.call('HSET', k, 'retryAt', 0, 'deadline', 0, 'winEnd', 0)
        set_state(B, active, dev, d[1], 'queued', attempt, 'maintenance window closed before the install began', now)
        new_state = 'queued'
      elseif d[1] == 'verifying' then
        new_state = fail_attempt(B, active, dev, d[1], attempt, 'did not come back running ' .. ro.version
          .. ' within the ack timeout', now)
        retried = new_state == 'queued'
      elseif ro.status == 'canceled' or ro.status == 'aborted' then
        finish(B, active, dev, d[1], 'canceled', attempt, 'rollout ' .. ro.status .. '; no answer to the cancel', now)
        new_state = 'canceled'
      elseif online then
        redis.call('HINCRBY', K.counts(B, active), 'timeouts', 1)
        new_state = fail_attempt(B, active, dev, d[1], attempt, 'no report within the ack timeout', now)
        retried = new_state == 'queued'
      else
        redis.call('HSET', k, 'retryAt', 0, 'deadline', 0)
        set_state(B, active, dev, d[1], 'queued', attempt, 'device offline at the ack deadline', now)
        new_state = 'queued'
      end
      if retried then retries = retries + 1 end
      if ro.limited then
        released[#released + 1] = active
        released[#released + 1] = dev
      end
      if FINAL[new_state] or new_state == 'queued' then finished[#finished + 1] = active end
    end
  end
  if reschedule(B, dev, now, grace) and online then
    hints[#hints + 1] = dev
    hints[#hints + 1] = f[3]
  end
end
return { hints, released, finished, { #due, timeouts, retries } }
