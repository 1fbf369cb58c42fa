--[[ patch_publish: record a new patch; (name, version) is unique.
KEYS     1 patch hash, 2 patches index (zset by time), 3 name@version -> id hash
ARGV     1 patchId, 2 name, 3 version, 4 notes, 5 actor, 6 artifact (JSON or ''), 7 signature (JSON or '')
Returns  {'OK', createdAt} or {'ERR', 'CONFLICT', message}
]]
-- @include time
-- @include patches
local name, version = ARGV[2], ARGV[3]
local now = now_ms()
local existing = publish_patch(KEYS[1], KEYS[2], KEYS[3], ARGV[1], name, version, ARGV[4], ARGV[5], ARGV[6],
  ARGV[7], now)
if existing then
  return { 'ERR', 'CONFLICT', 'patch ' .. name .. ' ' .. version .. ' already exists as ' .. existing }
end
return { 'OK', now }
