--[[ rollout_create: record a rollout of an existing patch (the fleet-wide part; buckets follow
through rollout_attach).
KEYS     1 patch hash, 2 rollout hash, 3 rollouts index (zset by seq), 4 sequence counter,
         5 set of rollouts still being attached, 6 set of live (active or paused) rollouts,
         7 rollout event stream
Gates are evaluated only once the rollout reached every bucket (rollout_attach, then the caller).
ARGV     1 rolloutId, 2 settings (JSON object of string fields), 3 actor
A rollout whose settings carry a `startAt` in the future is recorded paused by 'schedule'.
Returns  {'OK', seq, createdAt} or {'ERR', 'NOT_FOUND' | 'INVALID_INPUT', message}
]]
-- @include time
-- @include rollouts
local now = now_ms()
local end_by = tonumber(cjson.decode(ARGV[2]).endBy or '') or 0
if end_by > 0 and end_by <= now then
  return { 'ERR', 'INVALID_INPUT', 'endBy is not in the future (server time ' .. now .. ')' }
end
local seq = create_rollout({ patch = KEYS[1], rollout = KEYS[2], rollouts = KEYS[3], seq = KEYS[4],
  attaching = KEYS[5], live = KEYS[6], events = KEYS[7] }, ARGV[1], ARGV[2], ARGV[3], now)
if not seq then
  return { 'ERR', 'NOT_FOUND', 'no such patch' }
end
return { 'OK', seq, now }
