--[[ rollout_sample: a point of a rollout's counts over time, when they changed.
KEYS     1 the rollout's series (list of `at|succeeded|failed|active`, oldest first)
ARGV     1 succeeded, 2 failed, 3 active (offered to verifying), 4 most points kept
Returns  1 if a point was added, 0 if the counts are those of the last point
Bounded: past the most points, every other one of the older points goes (the first and the newest
stay), so a long rollout keeps its whole course at a coarser step, and a short one every change.
]]
-- @include time
local counts = ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3]
local last = redis.call('LINDEX', KEYS[1], -1)
if last and string.sub(last, string.find(last, '|', 1, true) + 1) == counts then return 0 end
redis.call('RPUSH', KEYS[1], now_ms() .. '|' .. counts)
local most = tonumber(ARGV[4])
if redis.call('LLEN', KEYS[1]) > most then
  local points = redis.call('LRANGE', KEYS[1], 0, -1)
  local kept = {}
  local half = math.floor(#points / 2)
  for i, point in ipairs(points) do
    if i > half or i % 2 == 1 then kept[#kept + 1] = point end
  end
  redis.call('DEL', KEYS[1])
  redis.call('RPUSH', KEYS[1], unpack(kept))
end
return 1
