--[[ node_heartbeat: renew a pod instance's presence lease.
KEYS     1 nodes zset (instance -> lease expiry ms)
ARGV     1 pod instance, 2 lease ms
Returns  {lost (1 if the lease had been taken away: the instance was reaped as dead while it lived,
          else 0), the Redis time of this beat (ms)}
]]
-- @include time
local now = now_ms()
local lost = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return { lost, now }
