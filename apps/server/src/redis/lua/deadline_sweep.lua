--[[ deadline_sweep: claim this bucket's due devices and act on them. Any pod may run it; the
claim is the script itself (atomic), so two pods never both time out or retry one delivery.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 max devices per call, 3 grace ms
Returns  {deviceId, podInstance, ...} online devices that have work to be offered now (to hint)
An in-flight attempt past its deadline times out: a failed attempt with backoff if the device is
connected, or requeued uncounted if the device is offline (it resumes when it reconnects).
]]
-- @include time
-- @include common
local B, limit, grace = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local hints = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
for _, dev in ipairs(due) do
  local f = redis.call('HMGET', B .. 'dev:' .. dev, 'active', 'online', 'node')
  local active, online = f[1] or '', f[2] == '1'
  if active ~= '' then
    local k = delivery_key(B, active, dev)
    local d = redis.call('HMGET', k, 'state', 'deadline', 'attempt')
    if INFLIGHT[d[1]] and tonumber(d[2]) <= now then
      if online then
        fail_attempt(B, active, dev, d[1], tonumber(d[3]), 'no report within the ack timeout', now)
      else
        redis.call('HSET', k, 'retryAt', 0, 'deadline', 0)
        set_state(B, active, dev, d[1], 'queued', tonumber(d[3]), 'device offline at the ack deadline', now)
      end
    end
  end
  if reschedule(B, dev, now, grace) and online then
    hints[#hints + 1] = dev
    hints[#hints + 1] = f[3]
  end
end
return hints
