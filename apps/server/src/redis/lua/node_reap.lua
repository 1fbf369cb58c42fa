--[[ node_reap: claim pod instances whose lease expired. Each is returned to exactly one caller,
which then marks its devices offline bucket by bucket (node_gone).
KEYS     1 nodes zset (instance -> lease expiry ms)
ARGV     1 max instances per call
Returns  {instance, ...}
]]
-- @include time
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))
for _, instance in ipairs(dead) do
  redis.call('ZREM', KEYS[1], instance)
end
return dead
