--[[ node_gone: a pod instance died (its lease expired); its devices in this bucket are offline.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 pod instance, 3 grace ms
Returns  number of devices marked offline
]]
-- @include time
-- @include scheduling
local B, instance, grace = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local held = redis.call('HGETALL', K.online(B))
local n = 0
for i = 1, #held, 2 do
  if held[i + 1] == instance then
    n = n + mark_offline(B, held[i], 'node', instance, now, grace)
  end
end
return n
