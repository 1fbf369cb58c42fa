--[[ attach_claim: a pod takes buckets of a rollout still to be attached, each for a lease.
KEYS     1 set of rollouts being attached, 2 the rollout's attach job (hash: next never-claimed
         bucket, span, toldAt: when its progress was last told), 3 its leases (zset bucket -> lease
         expiry ms), 4 the rollout hash
ARGV     1 rolloutId, 2 the caller's bucket span, 3 how many buckets at most, 4 lease ms
Returns  {{bucket, ...}, taken over}: buckets whose lease expired first (their pod died or
         stalled; how many of them is `taken over`), then buckets never claimed; {{}, 0} when none
         is left to claim (or the rollout is attached)
Leases are not renewed: a bucket attach that outlives its lease may run twice, and rollout_attach
creates nothing twice. The span only grows (a bucket growth may widen it while the job runs).
]]
-- @include time
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return { {}, 0 } end
local now = now_ms()
local want, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local span = math.max(tonumber(ARGV[2]), tonumber(redis.call('HGET', KEYS[2], 'span')) or 0)
redis.call('HSET', KEYS[2], 'span', span)
redis.call('HSETNX', KEYS[2], 'toldAt', now)
if (tonumber(redis.call('HGET', KEYS[4], 'attachOf')) or 0) < span then
  redis.call('HSET', KEYS[4], 'attachOf', span)
end
local claimed = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, want)
local taken_over = #claimed
local nxt = tonumber(redis.call('HGET', KEYS[2], 'next')) or 0
while #claimed < want and nxt < span do
  claimed[#claimed + 1] = tostring(nxt)
  nxt = nxt + 1
end
redis.call('HSET', KEYS[2], 'next', nxt)
for _, b in ipairs(claimed) do redis.call('ZADD', KEYS[3], now + lease, b) end
return { claimed, taken_over }
