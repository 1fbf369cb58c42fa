-- Run first in every script (lua.ts puts it there): no script runs on a bucket that is moving.
-- 1. While Redis Cluster moves this script's slot to another node (`redis-cli --cluster reshard`),
--    some of its keys are on each node, and Redis checks only the declared KEYS: a script reaching
--    undeclared keys would read the moved ones as missing, or fail halfway through its writes. Two
--    keys of the slot that are never written are read first: Redis refuses that while the slot
--    migrates (on the old node) or imports (on the new one).
-- 2. While camfleet splits a bucket (bucket-split.ts), its fence `<KEYS[1]>:~moving` is set.
-- Either way the script answers MOVING having changed nothing, and the caller repeats it once the
-- move is over (script.ts). Not TRYAGAIN: a Cluster client would repeat that by itself, holding back
-- every command pipelined with it. On a stable slot, or a server that is not a cluster, this costs
-- one EXISTS.
if #KEYS > 0 then
  local moving = redis.pcall('EXISTS', KEYS[1] .. ':~moving', KEYS[1] .. ':~slot-guard')
  if type(moving) == 'table' and moving.err then
    return redis.error_reply('MOVING this slot is moving between cluster nodes: ' .. moving.err)
  end
  if moving > 0 then
    return redis.error_reply('MOVING this bucket is being split')
  end
end
