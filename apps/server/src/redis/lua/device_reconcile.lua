--[[ device_reconcile: the pod holding a device's open connection checks that Redis agrees with it
(the periodic safety net behind lost hints and reaping races).
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 pod instance, 3 grace ms, 4.. pairs of deviceId and the connection id it
         has on this pod (all devices in this bucket)
Returns  per device, in order: {restored (1 if the device was marked offline and is now online again on this connection),
          offerable (1 if it was restored and has work it could be offered now),
          rolloutId of a delivery parked waiting for a slot that would start next ('' if none)}
Changes nothing when the device is online on this connection already, or when a newer connection
holds it (online with another connection id, or offline but recorded with another one).
]]
-- @include reconcile
local B, instance, grace = ARGV[1], ARGV[2], tonumber(ARGV[3])
local replies = {}
for i = 4, #ARGV, 2 do
  replies[#replies + 1] = reconcile_device(B, ARGV[i], instance, ARGV[i + 1], grace)
end
return replies
