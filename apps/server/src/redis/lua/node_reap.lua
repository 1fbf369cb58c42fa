--[[ node_reap: claim pod instances whose lease expired. Each is returned to exactly one caller,
which then marks its devices offline bucket by bucket (node_gone).
KEYS     1 nodes zset (instance -> lease expiry ms)
ARGV     1 max instances per call, 2 the calling pod instance, 3 its lease ms
Returns  {instance, ...}
Only a caller that is itself alive judges others, and only by what it has seen itself: an instance
is dead if its lease ran out before the caller's own last heartbeat. After Redis was frozen every
lease may have run out, yet each pod's heartbeat, queued during the freeze, lands before any reap a
pod sends once its own beat got through — so a stall of Redis declares no live pod dead. The caller
never reaps itself.
]]
-- @include time
local nodes, caller = KEYS[1], ARGV[2]
local now = now_ms()
local mine = tonumber(redis.call('ZSCORE', nodes, caller))
if not mine or mine <= now then return {} end
local last_beat = math.min(now, mine - tonumber(ARGV[3]))
local dead = redis.call('ZRANGEBYSCORE', nodes, '-inf', '(' .. last_beat, 'LIMIT', 0, tonumber(ARGV[1]))
local claimed = {}
for _, instance in ipairs(dead) do
  if instance ~= caller then
    redis.call('ZREM', nodes, instance)
    claimed[#claimed + 1] = instance
  end
end
return claimed
