--[[ device_register: a device says hello (first time or again).
KEYS[1]  bucket due set (names the bucket's slot)
ARGV     1 B bucket prefix, 2 deviceId, 3 model, 4 firmwareVersion, 5 labels (JSON),
         6 pod instance ('' when not connected), 7 connection id ('' when none), 8 grace ms
Returns  {firstSeenAt, lastSeenAt, online (0/1), node, offerable (0/1)}
Upserts inventory, records presence, and attaches every active rollout of the bucket the device
does not have yet (rollouts are continuous: late registrations get them too).
]]
-- @include time
-- @include common
local B, dev = ARGV[1], ARGV[2]
local instance, conn, grace = ARGV[6], ARGV[7], tonumber(ARGV[8])
local now = now_ms()
local devkey = B .. 'dev:' .. dev
if redis.call('EXISTS', devkey) == 0 then
  redis.call('HSET', devkey, 'id', dev, 'firstSeen', now, 'active', '', 'online', 0, 'node', '', 'conn', '')
end
redis.call('HSET', devkey, 'model', ARGV[3], 'firmware', ARGV[4], 'labels', ARGV[5], 'lastSeen', now)
if conn ~= '' then
  redis.call('HSET', devkey, 'online', 1, 'node', instance, 'conn', conn)
  redis.call('HSET', B .. 'online', dev, instance)
end
redis.call('ZADD', B .. 'devs', 0, dev)

local rids = redis.call('ZRANGE', B .. 'ros', 0, -1)
for _, rid in ipairs(rids) do
  create_delivery(B, rid, dev, now)
end
local offerable = reschedule(B, dev, now, grace)
local f = redis.call('HMGET', devkey, 'firstSeen', 'lastSeen', 'online', 'node')
return { tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), f[4], offerable and 1 or 0 }
