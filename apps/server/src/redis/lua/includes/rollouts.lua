-- @include events

-- Records a rollout of an existing patch (the fleet-wide part; buckets follow through
-- rollout_attach). keys: patch, rollout, rollouts, seq, attaching, live, events. Returns its
-- sequence number, or nil when the patch does not exist.
local function create_rollout(keys, rid, settings, actor, now)
  local p = redis.call('HMGET', keys.patch, 'id', 'name', 'version', 'notes', 'artifact', 'signature', 'deltas')
  if not p[1] then return nil end
  local seq = redis.call('INCR', keys.seq)
  redis.call('HSET', keys.rollout, 'id', rid, 'seq', seq, 'patchId', p[1], 'name', p[2], 'version', p[3],
    'notes', p[4], 'artifact', p[5], 'signature', p[6] or '', 'createdAt', now, 'createdBy', actor, 'status', 'active',
    'statusAt', now, 'statusBy', actor, 'reason', '', 'openWave', 0, 'waveMetAt', 0, 'rev', 1, 'deltas', p[7] or '')
  for field, value in pairs(cjson.decode(settings)) do
    redis.call('HSET', keys.rollout, field, value)
  end
  -- A start in the future: the rollout waits, paused by its schedule, until the controller starts it.
  if (tonumber(redis.call('HGET', keys.rollout, 'startAt')) or 0) > now then
    redis.call('HSET', keys.rollout, 'status', 'paused', 'statusBy', 'schedule', 'reason', 'scheduled')
  end
  redis.call('ZADD', keys.rollouts, seq, rid)
  redis.call('SADD', keys.attaching, rid)
  redis.call('SADD', keys.live, rid)
  rollout_event(keys.events, rid, 'created', actor, '', 0, now)
  return seq
end
