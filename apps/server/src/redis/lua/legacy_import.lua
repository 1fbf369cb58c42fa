--[[ legacy_import: turn one name the operators pushed on the original system's `patch_files` list
into a patch and a rollout to every device, exactly once however many pods watch the list.
KEYS     1 import cursor (how many list entries are imported), 2 patches index, 3 name@version -> id
         hash, then rollout_create's KEYS: 4 patch hash, 5 rollout hash, 6 rollouts index, 7 sequence
         counter, 8 rollouts being attached, 9 live rollouts, 10 rollout event stream
ARGV     1 list index of the entry (0-based), 2 its name, 3 patchId, 4 rolloutId, 5 rollout settings
         (JSON), 6 actor, 7 'skip' to pass over an entry that is no valid patch name ('' otherwise),
         8 patch key prefix (`<prefix>:{g}:patch:`)
Returns  {'OK', 1} imported by this call; {'OK', 0} not this entry's turn (imported already, or an
         earlier entry is not yet): the caller reads the cursor again
The patch is `<name>` version `patch_files-<index+1>`, so a name pushed twice is two patches.
]]
-- @include time
-- @include patches
-- @include rollouts
local index = tonumber(ARGV[1])
if (tonumber(redis.call('GET', KEYS[1])) or 0) ~= index then return { 'OK', 0 } end
if ARGV[7] == 'skip' then
  redis.call('SET', KEYS[1], index + 1)
  return { 'OK', 1 }
end
local now = now_ms()
local version = 'patch_files-' .. (index + 1)
local existing = publish_patch(KEYS[4], KEYS[2], KEYS[3], ARGV[3], ARGV[2], version,
  'pushed on the patch_files list', ARGV[6], '', '', now)
-- Published by hand with this very version already: roll out that patch (same tag, same slot).
local patch_key = existing and ARGV[8] .. existing or KEYS[4]
create_rollout({ patch = patch_key, rollout = KEYS[5], rollouts = KEYS[6], seq = KEYS[7], attaching = KEYS[8],
  live = KEYS[9], events = KEYS[10] }, ARGV[4], ARGV[5], ARGV[6], now)
redis.call('SET', KEYS[1], index + 1)
return { 'OK', 1 }
