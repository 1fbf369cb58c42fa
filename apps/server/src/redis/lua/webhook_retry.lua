--[[ webhook_retry: an attempt failed (an error status, a timeout, a refused or unreachable target): the
delivery is tried again after an exponential backoff with jitter, or given up once it had its most
attempts or is older than the longest age. The endpoint counts a consecutive failure either way.
Compare-and-set on the claim's lease: an outcome from an older claim changes nothing.
KEYS[1]  due set
ARGV     1 P webhook key prefix, 2 delivery id, 3 lease, 4 HTTP status (0: none), 5 error,
         6 backoff base ms, 7 backoff max ms, 8 most attempts, 9 longest age ms, 10 jitter in [0, 1),
         11 finished deliveries kept per endpoint
Returns  {'OK', 'retry', consecutive failures, next attempt at} | {'OK', 'failed', consecutive failures, 0}
         | {'OK', 'stale', 0, 0}
]]
-- @include time
-- @include webhooks
local P, id = ARGV[1], ARGV[2]
local ep, ev = wh_split(id)
local k = W.delivery(P, ep or '', ev or '')
local d = redis.call('HMGET', k, 'state', 'lease', 'attempts', 'createdAt')
if d[1] ~= 'pending' or d[2] ~= ARGV[3] then return { 'OK', 'stale', 0, 0 } end
local now = now_ms()
local base, cap, most, age = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local key = W.endpoint(P, ep)
local failures = redis.call('HINCRBY', key, 'failures', 1)
redis.call('HSET', key, 'lastFailureAt', now, 'lastError', ARGV[5])
redis.call('HSET', k, 'lastStatus', ARGV[4], 'lastError', ARGV[5])
local attempts = tonumber(d[3])
if attempts >= most or now - tonumber(d[4]) >= age then
  wh_finish(P, KEYS[1], ep, ev, 'failed', now, tonumber(ARGV[11]))
  redis.call('HINCRBY', key, 'givenUp', 1)
  return { 'OK', 'failed', failures, 0 }
end
-- Equal jitter: half the exponential delay, plus up to the other half.
local delay = math.min(cap, base * 2 ^ (attempts - 1))
local next_at = now + math.floor(delay / 2 + tonumber(ARGV[10]) * delay / 2)
redis.call('ZADD', KEYS[1], next_at, id)
return { 'OK', 'retry', failures, next_at }
