-- Fleet-wide rollout events (created, paused, wave opened, …), kept bounded.
local ROLLOUT_EVENTS_MAX = 10000
local function rollout_event(stream, rid, type, actor, reason, wave, now)
  redis.call('XADD', stream, 'MAXLEN', '~', ROLLOUT_EVENTS_MAX, '*', 'kind', 'rollout', 'rid', rid, 'type', type,
    'actor', actor, 'reason', reason or '', 'wave', wave or '', 'at', now)
end
