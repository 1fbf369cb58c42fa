--[[ rollout_attach: bring a rollout into one bucket and queue it for a page of the bucket's devices
it targets.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 rolloutId, 3 grace ms, 4 settings (JSON: seq, patchId, name, version, notes,
         artifact, signature, ackTimeoutMs, maxAttempts, backoffBaseMs, backoffMaxMs, waves, target, selector,
         continuous, limited, supersede, status, openWave, windows, wz, downloadAhead, deltas: {version:
         {ref, sha256, saved}}), 5 the last device of the previous page ('' to start), 6 devices in a
         page, 7.. this page's device ids of this bucket (target 'devices': the caller pages them)
Returns  {created, {dev1, node1, dev2, node2, …}, offers, next}: how many deliveries were created (0 when
         replayed, or when the rollout ended first); the online devices among them with the pod
         instance holding each, to be hinted (the due set catches any hint that is lost); the offers
         made here, for the caller to relay to the pod instance holding each device's connection:
         {} or {deadline, ack, patchId, name, version, notes, artifact, signature, dev1, node1, conn1,
         delta1, dev2, …} (attempt 1 of this rollout, one deadline for all; the delta for the
         version each device runs, or ''); the last device of this page ('' when the bucket is done,
         and always for target 'devices')
A page keeps one script call short (a bucket of 15,000 devices would hold Redis for a second).
An idle connected device (no active or queued delivery) is offered a rollout that needs nothing a
pod decides (not limited: no slot; no maintenance windows) in this same step: what its pod's claim
would do next, without the hint and the claim. A relayed offer that is lost (its pod's subscriber
was reconnecting; the caller died) is sent again when the device's pod claims for it (a reconnect,
a broadcast: repairing a half-attached rollout broadcasts), or the attempt times out.
Idempotent: replaying it (a pod died mid-attach, or its lease ran out) creates nothing twice.
]]
-- @include time
-- @include targeting
-- @include scheduling
local B, rid, grace = ARGV[1], ARGV[2], tonumber(ARGV[3])
local s = cjson.decode(ARGV[4])
local now = now_ms()
local rokey = K.rollout(B, rid)
local known = redis.call('HMGET', rokey, 'status', 'openWave')
if known[1] == 'canceled' or known[1] == 'aborted' then return { 0, {}, {}, '' } end
-- A copy that is here already was last written by rollout_sync_bucket (an operator paused or
-- advanced the rollout while it attached) or by this script: its status and wave are the newer.
if known[1] then s.status, s.openWave = known[1], known[2] end
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

local after, page = ARGV[5], tonumber(ARGV[6])
local candidates, next_page = {}, ''
if s.target == 'devices' then
  for i = 7, #ARGV do
    redis.call('SADD', K.rolloutDevices(B, rid), ARGV[i])
    if redis.call('EXISTS', K.device(B, ARGV[i])) == 1 then candidates[#candidates + 1] = ARGV[i] end
  end
else
  candidates = redis.call('ZRANGE', K.devices(B), after == '' and '-' or '(' .. after, '+', 'BYLEX', 'LIMIT', 0, page)
  if #candidates == page then next_page = candidates[#candidates] end
end
local ro = rollout(B, rid)
local created, hints, offers = 0, {}, {}
local offer_now = ro.status == 'active' and not ro.limited and ro.windows == ''
local deltas = s.deltas or {}
-- The bucket's shared keys (counters, open set, due set) are written once, at the end.
local batch = new_batch()
for _, dev in ipairs(candidates) do
  -- The device read once: what a selector matches, what rescheduling needs (creating the
  -- delivery, and superseding older ones, change neither) and what an offer made here needs.
  local f = redis.call('HMGET', K.device(B, dev), 'active', 'online', 'node', 'labels', 'model', 'conn', 'firmware')
  if targets(B, rid, ro, dev, f[4] or false, f[5]) then
    local idle = offer_now and (f[1] or '') == '' and f[2] == '1' and (f[3] or '') ~= '' and (f[6] or '') ~= ''
    local new, wave, deadline = create_delivery(B, rid, ro, dev, now, batch, idle)
    if new == 1 then
      created = created + 1
      if deadline then
        -- The offer once (one rollout, attempt 1, one deadline in one script call), then its devices.
        if #offers == 0 then
          offers = { deadline, ro.ack, s.patchId, s.name, s.version, s.notes, s.artifact, s.signature }
        end
        batch.due[#batch.due + 1] = deadline
        batch.due[#batch.due + 1] = dev
        local delta = deltas[f[7] or '']
        offers[#offers + 1] = dev
        offers[#offers + 1] = f[3]
        offers[#offers + 1] = f[6]
        offers[#offers + 1] = type(delta) == 'table' and delta.ref or ''
      else
        local _, online, node = reschedule_created(B, dev, ro, wave, now, grace, batch.due, f)
        if online and node then
          hints[#hints + 1] = dev
          hints[#hints + 1] = node
        end
      end
    end
  end
end
flush_batch(B, batch)
return { created, hints, offers, next_page }
