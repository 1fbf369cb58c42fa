--[[ rollout_sync_bucket: bring the bucket's copy of a rollout in line with its new status / open wave.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 rolloutId, 3 status, 4 open wave, 5 grace ms, 6 reason,
         7 'finish' to let deliveries in flight complete (no cancel requests), '' otherwise
Returns  {deviceId, podInstance, ...} online devices asked to cancel an attempt in flight
Canceled or aborted: queued deliveries end canceled; deliveries in flight get a cancel request
(the device stops and reports canceled, or carries on and reports its real outcome); verifying
ones finish as they are; with 'finish' (a schedule's end) those in flight are not asked to stop
and report their real outcome. Marks the copy even if the rollout never reached this bucket, so a late
rollout_attach does nothing. Paused: nothing starts; in flight carries on.
]]
-- @include time
-- @include scheduling
local B, rid, status, grace, reason = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5]), ARGV[6]
local finish_in_flight = ARGV[7] == 'finish'
local now = now_ms()
redis.call('HSET', K.rollout(B, rid), 'status', status, 'openWave', ARGV[4])
local notify = {}
if status ~= 'canceled' and status ~= 'aborted' then return notify end
redis.call('ZREM', K.rollouts(B), rid)
for _, dev in ipairs(redis.call('SMEMBERS', K.open(B, rid))) do
  local k = K.delivery(B, rid, dev)
  local d = redis.call('HMGET', k, 'state', 'attempt', 'cancelReq')
  local attempt = tonumber(d[2])
  if d[1] == 'queued' then
    redis.call('ZREM', K.queue(B, dev), rid)
    finish(B, rid, dev, 'queued', 'canceled', attempt, reason, now)
    reschedule(B, dev, now, grace)
  elseif INFLIGHT[d[1]] and d[1] ~= 'verifying' and tonumber(d[3]) ~= attempt and not finish_in_flight then
    redis.call('HSET', k, 'cancelReq', attempt)
    add_history(B, rid, dev, now, attempt, d[1], 'cancel requested: ' .. reason)
    local f = redis.call('HMGET', K.device(B, dev), 'online', 'node')
    if f[1] == '1' then
      notify[#notify + 1] = dev
      notify[#notify + 1] = f[2]
    end
  end
end
return notify
