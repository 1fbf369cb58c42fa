--[[ rollout_transition: an operator's or the controller's decision about a rollout.
KEYS     1 rollout hash, 2 set of live rollouts, 3 rollouts to evaluate, 4 rollout event stream,
         5 fleet-wide count of rollout revisions (every change to any rollout adds one), 6 ended
         rollouts (zset: when; their finished deliveries go after the retention)
ARGV     1 action: pause | resume | cancel | abort | advance | open | met | start | end, 2 actor,
         3 reason, 4 expected open wave (open, met: compare-and-set; '' otherwise)
Returns  {'OK', status, openWave, changed (0/1)} or {'ERR', code, message}
pause: active -> paused. resume: paused -> active. cancel / abort: active|paused -> canceled /
aborted (final). advance: open the next wave now (operator). open: the controller opens the next
wave, if the open wave is still the one it evaluated. met: the open wave reached its success
threshold at this time (soak starts). start: its schedule starts a rollout still paused by
'schedule' (an operator who resumed or paused it since decided instead). end: its schedule ends a
live rollout at `endBy` (canceled; event `ended`). Repeating a transition already made changes
nothing.
]]
-- @include time
-- @include events
local action, actor, reason, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('EXISTS', KEYS[1]) == 0 then return { 'ERR', 'NOT_FOUND', 'no such rollout' } end
local r = redis.call('HMGET', KEYS[1], 'status', 'openWave', 'waves', 'id', 'waveMetAt', 'statusBy')
local status, wave, id = r[1], tonumber(r[2]), r[4]
local last = -1
for _ in string.gmatch(r[3] or '100', '[^,]+') do last = last + 1 end
local now = now_ms()
local live = status == 'active' or status == 'paused'

local function result(changed) return { 'OK', redis.call('HGET', KEYS[1], 'status'),
  tonumber(redis.call('HGET', KEYS[1], 'openWave')), changed } end
local EVENT_OF = { paused = 'paused', active = 'resumed', canceled = 'canceled', aborted = 'aborted' }
local function set_status(to, event)
  redis.call('HSET', KEYS[1], 'status', to, 'statusAt', now, 'statusBy', actor, 'reason', reason)
  rollout_event(KEYS[4], id, event or EVENT_OF[to], actor, reason, wave, now)
  redis.call('HINCRBY', KEYS[1], 'rev', 1)
  redis.call('INCR', KEYS[5])
  if to == 'canceled' or to == 'aborted' then
    redis.call('SREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZADD', KEYS[6], now, id)
  end
end
local function refuse(message) return { 'ERR', 'INVALID_TRANSITION', message } end

if action == 'pause' then
  if status == 'paused' then return result(0) end
  if status ~= 'active' then return refuse('only an active rollout can be paused; it is ' .. status) end
  set_status('paused')
elseif action == 'resume' then
  if status == 'active' then return result(0) end
  if status ~= 'paused' then return refuse('only a paused rollout can be resumed; it is ' .. status) end
  set_status('active')
  redis.call('ZADD', KEYS[3], 0, id)
elseif action == 'cancel' or action == 'abort' then
  local to = action == 'cancel' and 'canceled' or 'aborted'
  if status == to then return result(0) end
  if not live then return refuse('the rollout already ended ' .. status) end
  set_status(to)
elseif action == 'start' then
  if status ~= 'paused' or r[6] ~= 'schedule' then return result(0) end
  set_status('active', 'started')
  redis.call('ZADD', KEYS[3], 0, id)
elseif action == 'end' then
  if not live then return result(0) end
  set_status('canceled', 'ended')
elseif action == 'advance' or action == 'open' then
  if action == 'open' and (tostring(wave) ~= expected or status ~= 'active') then return result(0) end
  if not live then return refuse('the rollout already ended ' .. status) end
  if wave >= last then return refuse('every wave is already open') end
  redis.call('HSET', KEYS[1], 'openWave', wave + 1, 'waveMetAt', 0)
  redis.call('HINCRBY', KEYS[1], 'rev', 1)
  redis.call('INCR', KEYS[5])
  rollout_event(KEYS[4], id, 'wave_opened', actor, reason, wave + 1, now)
  redis.call('ZADD', KEYS[3], 0, id)
elseif action == 'met' then
  if tostring(wave) ~= expected or tonumber(r[5]) ~= 0 then return result(0) end
  redis.call('HSET', KEYS[1], 'waveMetAt', now)
  rollout_event(KEYS[4], id, 'wave_met', actor, reason, wave, now)
else
  return refuse('unknown action ' .. action)
end
return result(1)
