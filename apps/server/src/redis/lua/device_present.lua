--[[ device_present: a pod that was wrongly declared dead (stalled past its lease, e.g. while Redis
was frozen) puts a device it still holds back online.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 deviceId, 3 pod instance, 4 connection id, 5 grace ms
Returns  1 if the device has work it could be offered now, else 0 (0 also when a newer connection
         holds the device elsewhere: then nothing changes)
]]
-- @include time
-- @include common
local B, dev, instance, conn, grace = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local devkey = B .. 'dev:' .. dev
local f = redis.call('HMGET', devkey, 'online', 'conn')
if f[1] == '1' and f[2] ~= conn then return 0 end
if f[1] ~= '1' and f[2] ~= '' and f[2] ~= conn and f[2] ~= false then return 0 end
redis.call('HSET', devkey, 'online', 1, 'node', instance, 'conn', conn)
redis.call('HSET', B .. 'online', dev, instance)
return reschedule(B, dev, now_ms(), grace) and 1 or 0
