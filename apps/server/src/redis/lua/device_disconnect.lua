--[[ device_disconnect: a device's connection closed.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 deviceId, 3 connection id, 4 grace ms
Returns  1 if the device went offline, 0 if a newer connection holds it (nothing changed)
In-flight work keeps its deadline; if it passes while the device is away, the attempt is
requeued without counting as a failure.
]]
-- @include time
-- @include scheduling
return mark_offline(ARGV[1], ARGV[2], 'conn', ARGV[3], now_ms(), tonumber(ARGV[4]))
