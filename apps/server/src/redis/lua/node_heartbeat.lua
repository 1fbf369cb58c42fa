--[[ node_heartbeat: renew a pod instance's presence lease, with the number of devices it holds.
KEYS     1 nodes zset (instance -> lease expiry ms), 2 node devices hash (instance -> devices held)
ARGV     1 pod instance, 2 lease ms, 3 devices the instance holds
Returns  {lost (1 if the lease had been taken away: the instance was reaped as dead while it lived,
          else 0), the Redis time of this beat (ms)}
]]
-- @include time
local now = now_ms()
local lost = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return { lost, now }
