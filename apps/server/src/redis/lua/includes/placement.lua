-- A device script that may create the device's record (register, credentials) first asks whether
-- the caller placed the device here by a layout this bucket still agrees with. When a bucket splits
-- (bucket-growth.ts) it keeps the layout version of the split (K.placedBy): a caller that placed a
-- device by an older layout (a pod cut off from Redis while the others moved on, with commands
-- queued from before) is told MOVING and repeats the call where its newer layout says, instead of
-- creating the device a second time in the bucket it left.
-- @include keys
local function placed_by_old_layout(B, caller_version)
  local required = tonumber(redis.call('GET', K.placedBy(B)) or '0')
  return required > (tonumber(caller_version) or 0)
end
