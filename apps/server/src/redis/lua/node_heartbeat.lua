--[[ node_heartbeat: renew a pod instance's presence lease.
KEYS     1 nodes zset (instance -> lease expiry ms)
ARGV     1 pod instance, 2 lease ms
Returns  the lease expiry (ms)
]]
-- @include time
local expires = now_ms() + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], expires, ARGV[1])
return expires
