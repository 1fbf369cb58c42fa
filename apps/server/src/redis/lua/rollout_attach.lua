--[[ rollout_attach: bring a rollout into one bucket and queue it for the bucket's devices it targets.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 rolloutId, 3 grace ms, 4 settings (JSON: seq, patchId, name, version, notes,
         artifact, signature, ackTimeoutMs, maxAttempts, backoffBaseMs, backoffMaxMs, waves, target, selector,
         continuous, limited, supersede, status, openWave, windows, wz, downloadAhead, deltas: {version:
         {ref, sha256, saved}}), 5.. device
         ids of this bucket
         (target 'devices')
Returns  {created, dev1, node1, dev2, node2, …}: how many deliveries were created (0 when replayed,
         or when the rollout ended first), and the online devices among them with the pod instance
         holding each, to be hinted (the due set catches any hint that is lost)
Idempotent: replaying it (after a pod died mid-create) creates nothing twice.
]]
-- @include time
-- @include targeting
-- @include scheduling
local B, rid, grace = ARGV[1], ARGV[2], tonumber(ARGV[3])
local s = cjson.decode(ARGV[4])
local now = now_ms()
local rokey = K.rollout(B, rid)
local known = redis.call('HGET', rokey, 'status')
if known == 'canceled' or known == 'aborted' then return { 0 } end
redis.call('HSET', rokey, 'id', rid, 'seq', s.seq, 'patchId', s.patchId, 'name', s.name, 'version', s.version,
  'notes', s.notes, 'artifact', s.artifact, 'signature', s.signature, 'ackTimeoutMs', s.ackTimeoutMs, 'maxAttempts', s.maxAttempts,
  'backoffBaseMs', s.backoffBaseMs, 'backoffMaxMs', s.backoffMaxMs, 'waves', s.waves, 'target', s.target,
  'selector', s.selector, 'limited', s.limited, 'supersede', s.supersede, 'status', s.status,
  'openWave', s.openWave, 'windows', s.windows or '', 'wz', s.wz or '', 'downloadAhead', s.downloadAhead or '0')
-- Per version a device may run: the delta offered to it (JSON), its sha256 (what it may then fetch)
-- and the bytes it saves (counted when an install reports using it).
for version, d in pairs(s.deltas or {}) do
  redis.call('HSET', rokey, 'delta:' .. version, d.ref, 'deltaSha:' .. version, d.sha256, 'deltaSaved:' .. version, d.saved)
end
if s.continuous == '1' then redis.call('ZADD', K.rollouts(B), s.seq, rid) end

local candidates
if s.target == 'devices' then
  candidates = {}
  for i = 5, #ARGV do
    redis.call('SADD', K.rolloutDevices(B, rid), ARGV[i])
    if redis.call('EXISTS', K.device(B, ARGV[i])) == 1 then candidates[#candidates + 1] = ARGV[i] end
  end
else
  candidates = redis.call('ZRANGE', K.devices(B), 0, -1)
end
local ro = rollout(B, rid)
local reply = { 0 }
-- The bucket's shared keys (counters, open set, due set) are written once, at the end.
local batch = new_batch()
for _, dev in ipairs(candidates) do
  -- The device read once: what a selector matches and what rescheduling needs (creating the
  -- delivery, and superseding older ones, change neither).
  local f = redis.call('HMGET', K.device(B, dev), 'active', 'online', 'node', 'labels', 'model')
  if targets(B, rid, ro, dev, f[4] or false, f[5]) then
    local created, wave = create_delivery(B, rid, ro, dev, now, batch)
    if created == 1 then
      reply[1] = reply[1] + 1
      local _, online, node = reschedule_created(B, dev, ro, wave, now, grace, batch.due, f)
      if online and node then
        reply[#reply + 1] = dev
        reply[#reply + 1] = node
      end
    end
  end
end
flush_batch(B, batch)
return reply
