--[[ node_heartbeat: renew a pod instance's presence lease.
KEYS     1 nodes zset (instance -> lease expiry ms)
ARGV     1 pod instance, 2 lease ms
Returns  1 if the lease had been taken away (the instance was reaped as dead while it lived), else 0
]]
-- @include time
local expires = now_ms() + tonumber(ARGV[2])
return redis.call('ZADD', KEYS[1], expires, ARGV[1])
