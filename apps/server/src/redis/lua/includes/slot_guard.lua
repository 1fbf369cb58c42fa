-- Run first in every script (lua.ts puts it there). While Redis Cluster moves this script's slot to
-- another node (`redis-cli --cluster reshard`), some of its keys are on each node, and Redis checks
-- only the declared KEYS: a script reaching undeclared keys would read the moved ones as missing, or
-- fail halfway through its writes. So it first reads two keys of its slot that never exist, which
-- Redis refuses while the slot migrates (on the old node) or imports (on the new one), and answers
-- TRYAGAIN having changed nothing; the caller repeats it once the slot has moved. On a stable slot,
-- or a server that is not a cluster, the read answers 0.
if #KEYS > 0 then
  local moving = redis.pcall('EXISTS', KEYS[1] .. ':~slot-guard-1', KEYS[1] .. ':~slot-guard-2')
  if type(moving) == 'table' and moving.err then
    return redis.error_reply('TRYAGAIN this slot is moving between cluster nodes: ' .. moving.err)
  end
end
