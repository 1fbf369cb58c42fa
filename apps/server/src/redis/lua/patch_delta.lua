--[[ patch_delta: record a delta of a patch's artifact, made from an earlier version's.
KEYS     1 patch hash
ARGV     1 fromVersion, 2 the delta's record (JSON, createdAt filled in here), 3 the artifact's sha256
         when the delta was made
Returns  {'OK', record (JSON)}: the new record, or the one already kept for fromVersion (deltas
         are made once: the same inputs give the same bytes)
         {'ERR', 'NOT_FOUND' | 'CONFLICT', message}: the patch is gone, or its artifact is not the
         one the delta rebuilds
The deltas are one JSON object on the patch, by fromVersion: few per patch, read whole by
rollout_create.
]]
-- @include time
local p = redis.call('HMGET', KEYS[1], 'id', 'artifact', 'deltas')
if not p[1] then return { 'ERR', 'NOT_FOUND', 'no such patch' } end
if not p[2] or p[2] == '' or cjson.decode(p[2]).sha256 ~= ARGV[3] then
  return { 'ERR', 'CONFLICT', 'the patch artifact is not the one the delta rebuilds' }
end
local deltas = {}
if p[3] and p[3] ~= '' then deltas = cjson.decode(p[3]) end
if deltas[ARGV[1]] then return { 'OK', cjson.encode(deltas[ARGV[1]]) } end
local record = cjson.decode(ARGV[2])
record.createdAt = now_ms()
deltas[ARGV[1]] = record
redis.call('HSET', KEYS[1], 'deltas', cjson.encode(deltas))
return { 'OK', cjson.encode(record) }
