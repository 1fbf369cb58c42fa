-- Records a new patch; (name, version) is unique. Returns nil, or the id of the patch that already
-- has that name and version.
local function publish_patch(patch_key, patches_key, names_key, id, name, version, notes, actor, artifact,
                             signature, now)
  local existing = redis.call('HGET', names_key, name .. '@' .. version)
  if existing then return existing end
  redis.call('HSET', patch_key, 'id', id, 'name', name, 'version', version, 'notes', notes, 'artifact', artifact,
    'signature', signature, 'createdAt', now, 'createdBy', actor)
  redis.call('ZADD', patches_key, now, id)
  redis.call('HSET', names_key, name .. '@' .. version, id)
  return nil
end
