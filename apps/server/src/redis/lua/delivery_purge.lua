--[[ delivery_purge: one rollout's finished deliveries leave the archives of a page of devices.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 rolloutId, 3 the last device of the previous page ('' to start),
         4 devices in a page
Returns  {last device of this page ('' when the bucket is done), lines removed}
Only compacted (finished) deliveries are in the archives; a device's open delivery is not touched.
]]
-- @include keys
local B, rid, after, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local devs = redis.call('ZRANGE', K.devices(B), after == '' and '-' or '(' .. after, '+', 'BYLEX', 'LIMIT', 0, limit)
local removed = 0
local needle = '\n["' .. rid .. '"'
for _, dev in ipairs(devs) do
  local key = K.archive(B, dev)
  local lines = redis.call('GET', key)
  local at = lines and string.find(lines, needle, 1, true)
  if at then
    local stop = string.find(lines, '\n', at + 1, true)
    local rest = string.sub(lines, 1, at - 1) .. (stop and string.sub(lines, stop) or '')
    if rest == '' then redis.call('DEL', key) else redis.call('SET', key, rest) end
    removed = removed + 1
  end
end
return { #devs < limit and '' or devs[#devs], removed }
