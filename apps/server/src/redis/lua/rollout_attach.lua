--[[ rollout_attach: bring a rollout into one bucket and queue it for the bucket's devices.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 rolloutId, 3 seq, 4 patchId, 5 patch name, 6 patch version,
         7 notes, 8 artifact (JSON or ''), 9 ackTimeoutMs, 10 maxAttempts, 11 backoffBaseMs,
         12 backoffMaxMs, 13 grace ms
Returns  number of deliveries created (0 when replayed, or when the rollout was canceled first)
Idempotent: replaying it (after a pod died mid-create) creates nothing twice.
]]
-- @include time
-- @include common
local B, rid, grace = ARGV[1], ARGV[2], tonumber(ARGV[13])
local now = now_ms()
local rokey = B .. 'ro:' .. rid
if redis.call('HGET', rokey, 'status') == 'canceled' then return 0 end
redis.call('HSET', rokey, 'id', rid, 'seq', ARGV[3], 'patchId', ARGV[4], 'name', ARGV[5], 'version', ARGV[6],
  'notes', ARGV[7], 'artifact', ARGV[8], 'ackTimeoutMs', ARGV[9], 'maxAttempts', ARGV[10],
  'backoffBaseMs', ARGV[11], 'backoffMaxMs', ARGV[12], 'status', 'active')
redis.call('ZADD', B .. 'ros', ARGV[3], rid)
local created = 0
for _, dev in ipairs(redis.call('ZRANGE', B .. 'devs', 0, -1)) do
  if create_delivery(B, rid, dev, now) == 1 then
    created = created + 1
    reschedule(B, dev, now, grace)
  end
end
return created
