--[[ eval_settle: a finished rollout leaves the fallback schedule of gate evaluations.
KEYS     1 rollouts to evaluate (zset rolloutId -> due time), 2 ended rollouts (zset: when)
ARGV     1 rolloutId, 2 a Redis time (ms) after the caller claimed it (eval_claim) and read the rollout,
         3 'snapshot' for a rollout no device joins later: finished, it has ended (its finished
         deliveries go after the retention); a continuous one has not (a device may still join)
Returns  1 if it left the schedule, 0 if a trigger queued it since the claim (it stays)
A rollout with nothing open has no gate to judge until a delivery of it finishes again or an
operator acts, and both queue it (due at once). Only the fallback entry eval_claim set (due a
fallback interval after the claim, so after ARGV[2]) is removed: a trigger meanwhile is not lost.
]]
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if not score or score <= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[3] == 'snapshot' then redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1]) end
return 1
