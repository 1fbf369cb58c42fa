--[[ node_reap: claim pod instances whose lease expired. Each is returned to exactly one caller,
which then marks its devices offline bucket by bucket (node_gone).
KEYS     1 nodes zset (instance -> lease expiry ms), 2 node devices hash (instance -> devices held)
ARGV     1 max instances per call, 2 the calling pod instance, 3 the Redis time of the caller's last
         heartbeat whose answer it has seen (ms)
Returns  {instance, ...}
Only a caller that is itself alive judges others, and only by what it has seen: an instance is dead
if its lease ran out before that beat. After a Redis freeze every lease may have run out, and a
pod's heartbeat and reap, both queued during the freeze, land together before the other pods'
heartbeats; but that reap names a beat from before the freeze, when every live lease still held.
The caller never reaps itself.
]]
-- @include time
local nodes, caller, seen = KEYS[1], ARGV[2], tonumber(ARGV[3])
local mine = tonumber(redis.call('ZSCORE', nodes, caller))
if not mine or mine <= now_ms() then return {} end
local dead = redis.call('ZRANGEBYSCORE', nodes, '-inf', '(' .. seen, 'LIMIT', 0, tonumber(ARGV[1]))
local claimed = {}
for _, instance in ipairs(dead) do
  if instance ~= caller then
    redis.call('ZREM', nodes, instance)
    redis.call('HDEL', KEYS[2], instance)
    claimed[#claimed + 1] = instance
  end
end
return claimed
