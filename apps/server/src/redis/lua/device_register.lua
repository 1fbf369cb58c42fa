--[[ device_register: a device says hello (first time, again after a reconnect, or after a restart).
KEYS[1]  bucket due set (names the bucket's slot)
ARGV     1 B bucket prefix, 2 deviceId, 3 model, 4 firmwareVersion, 5 labels (JSON),
         6 pod instance ('' when not connected), 7 connection id ('' when none), 8 grace ms,
         9 its zone from its `tz` label ("offset,until,next", see windows.lua; '' when none),
         10 the version of the bucket layout the caller placed the device by (placement.lua)
Returns  {firstSeenAt, lastSeenAt, online (0/1), node, offerable (0/1), rolloutId of a delivery that
          left flight here ('' if none), its slot action ('release' | ''), its final state ('' if open)}
Upserts inventory and presence. The firmware version proves an installed patch: the active
delivery succeeds if the device now runs the patch's version, and a device that was verifying but
came back with another version has rolled back (a failed attempt). Active rollouts of the bucket
that target the device and are continuous join; ones it stopped matching drop their unstarted
delivery.
]]
-- @include time
-- @include targeting
-- @include scheduling
-- @include placement
local B, dev = ARGV[1], ARGV[2]
if placed_by_old_layout(B, ARGV[10]) then
  return redis.error_reply('MOVING the bucket layout changed: place the device again')
end
local firmware, instance, conn, grace = ARGV[4], ARGV[6], ARGV[7], tonumber(ARGV[8])
local now = now_ms()
local devkey = K.device(B, dev)
-- The device read once and written once: its first sighting, its active delivery, its presence.
local known = redis.call('HMGET', devkey, 'firstSeen', 'active', 'online', 'node', 'id')
local exists = known[5] ~= false and known[5] ~= nil
local first_seen, online, node = tonumber(known[1]) or now, known[3] or '0', known[4] or ''
local hset = { 'HSET', devkey, 'model', ARGV[3], 'firmware', firmware, 'labels', ARGV[5], 'lastSeen', now,
  'tz', ARGV[9] or '' }
if not exists then
  for _, v in ipairs({ 'id', dev, 'firstSeen', now, 'active', '' }) do hset[#hset + 1] = v end
end
if conn ~= '' then
  online, node = '1', instance
  redis.call('HSET', K.online(B), dev, instance)
end
for _, v in ipairs({ 'online', online, 'node', node }) do hset[#hset + 1] = v end
if conn ~= '' or not exists then
  hset[#hset + 1] = 'conn'
  hset[#hset + 1] = conn
end
redis.call(unpack(hset))
redis.call('ZADD', K.devices(B), 0, dev)

-- Verification: does the device now run what its active delivery installed?
local left_rid, slot, final = '', '', ''
local active = known[2] or ''
if active ~= '' then
  local k = K.delivery(B, active, dev)
  local d = redis.call('HMGET', k, 'state', 'attempt')
  local ro = rollout(B, active)
  local attempt, new_state = tonumber(d[2]), nil
  if attempt >= 1 and firmware == ro.version and (d[1] == 'verifying' or d[1] == 'queued') then
    finish(B, active, dev, d[1], 'succeeded', attempt, false, now)
    new_state = 'succeeded'
  elseif d[1] == 'verifying' then
    new_state = fail_attempt(B, active, dev, d[1], attempt,
      'rolled back: device came back running ' .. firmware .. ', expected ' .. ro.version, now)
  end
  if new_state then
    left_rid = active
    if ro.limited and d[1] == 'verifying' then slot = 'release' end
    if FINAL[new_state] then final = new_state end
  end
end

-- A reconnect retries deliveries parked for a slot (their pod may be gone).
for _, rid in ipairs(redis.call('ZRANGE', K.queue(B, dev), 0, -1)) do
  redis.call('HSET', K.delivery(B, rid, dev), 'parked', 0)
end
-- Continuous rollouts: join what now matches, drop what never started and no longer matches.
for _, rid in ipairs(redis.call('ZRANGE', K.rollouts(B), 0, -1)) do
  local ro = rollout(B, rid)
  if targets(B, rid, ro, dev, ARGV[5], ARGV[3]) then create_delivery(B, rid, ro, dev, now) else untarget(B, rid, dev) end
end
local offerable = reschedule(B, dev, now, grace)
return { first_seen, now, tonumber(online), node, offerable and 1 or 0, left_rid, slot, final }
