-- Redis time in milliseconds: one clock for every pod.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Fleet-wide rollout events kept (the event stream is bounded).
local ROLLOUT_EVENTS_MAX = 10000
local function rollout_event(stream, rid, type, actor, reason, wave, now)
  redis.call('XADD', stream, 'MAXLEN', '~', ROLLOUT_EVENTS_MAX, '*', 'kind', 'rollout', 'rid', rid, 'type', type,
    'actor', actor, 'reason', reason or '', 'wave', wave or '', 'at', now)
end
