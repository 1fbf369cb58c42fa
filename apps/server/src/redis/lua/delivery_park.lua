--[[ delivery_park: the device's next delivery waits for a slot of its rollout (in-flight cap or
rate). Parked, it is not due: the pod that parked it retries when the rollout frees a slot.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 deviceId, 3 rolloutId, 4 grace ms, 5 the connection parking it ('' for any)
Returns  1 if parked, 0 if the delivery is no longer waiting to start, or the device is no longer held
         by that connection (a newer one un-parked it on register: a late park must not undo that)
]]
-- @include time
-- @include scheduling
local B, dev, rid, grace, conn = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5] or ''
if conn ~= '' and redis.call('HGET', K.device(B, dev), 'conn') ~= conn then return 0 end
local k = K.delivery(B, rid, dev)
if redis.call('HGET', k, 'state') ~= 'queued' then return 0 end
redis.call('HSET', k, 'parked', 1)
reschedule(B, dev, now_ms(), grace)
return 1
