-- Which rollouts target a device, and the deliveries that follow from it: waves, selectors,
-- supersede, creating and dropping queued deliveries.
-- @include deliveries

-- Stable wave of a device in a rollout: a hash of (rollout, device) placed on the cumulative
-- percentages, so a device in the 1% canary stays in it.
local function wave_of(rid, dev, waves)
  -- One wave (the default): everyone is in it, no hash needed.
  if waves == nil or waves == '' or waves == '100' then return 0 end
  local point = (tonumber(string.sub(redis.sha1hex(rid .. '|' .. dev), 1, 8), 16) % 10000) / 100
  local i = 0
  for percent in string.gmatch(waves or '100', '[^,]+') do
    if point < tonumber(percent) then return i end
    i = i + 1
  end
  return i - 1
end

-- Selectors decoded in this script call: an attach checks one against every device of a bucket.
local SELECTORS = {}

-- Whether the device matches the rollout's selector (the contracts' matchesSelector, in Lua).
local function selector_matches(selector_json, labels, model)
  local rules = SELECTORS[selector_json]
  if not rules then
    rules = cjson.decode(selector_json)
    SELECTORS[selector_json] = rules
  end
  for _, r in ipairs(rules) do
    local value = r.key == 'model' and model or labels[r.key]
    local ok
    if r.op == 'eq' then ok = value == r.value
    elseif r.op == 'ne' then ok = value ~= r.value
    elseif r.op == 'exists' then ok = value ~= nil
    elseif r.op == 'absent' then ok = value == nil
    else
      local found = false
      for _, v in ipairs(r.values) do if v == value then found = true end end
      if r.op == 'in' then ok = value ~= nil and found else ok = value == nil or not found end
    end
    if not ok then return false end
  end
  return true
end

-- Whether rollout rid targets dev now. `labels`, `model`: the device's, when the caller read them.
local function targets(B, rid, ro, dev, labels, model)
  if ro.target == 'devices' then
    return redis.call('SISMEMBER', K.rolloutDevices(B, rid), dev) == 1
  elseif ro.target == 'selector' then
    if labels == nil then
      local d = redis.call('HMGET', K.device(B, dev), 'labels', 'model')
      labels, model = d[1], d[2]
    end
    return selector_matches(ro.selector, cjson.decode(labels or '{}'), model or '')
  end
  return true
end

-- Cancels dev's queued, never-started deliveries of rollouts older than seq (supersede).
local function supersede_older(B, dev, seq, rid, now)
  local q = K.queue(B, dev)
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', q, '-inf', '(' .. seq)) do
    local k = K.delivery(B, old, dev)
    set_state(B, old, dev, redis.call('HGET', k, 'state'), 'canceled', tonumber(redis.call('HGET', k, 'attempt')),
      'superseded by ' .. rid, now)
    redis.call('ZREM', q, old)
  end
end

-- Creates the queued delivery of rollout rid for dev unless it exists. Returns 1 if created, then
-- its wave. `tally`: a script's batch (new_batch), or nil to write at once. A delivery exists exactly when its
-- rollout is in the device's deliveries (written and removed together), so adding it there is the
-- existence check.
-- `offer_now`: the caller found the device idle and connected and nothing the pod decides in the way
-- (see rollout_attach): if the delivery may start now and the device has nothing queued, it is
-- created offered, attempt 1, as the device's active delivery (queued then offered in one write:
-- both history entries, counters and events), and the third value returned is its deadline.
local function create_delivery(B, rid, ro, dev, now, tally, offer_now)
  if archived(B, rid, dev) then return 0 end
  if redis.call('ZADD', K.deviceDeliveries(B, dev), 'NX', ro.seq, rid) == 0 then return 0 end
  if ro.supersede then supersede_older(B, dev, ro.seq, rid, now) end
  local wave = wave_of(rid, dev, ro.waves)
  if tally then
    batch_add(tally.open, K.open(B, rid), dev)
  else
    redis.call('SADD', K.open(B, rid), dev)
  end
  local k = K.delivery(B, rid, dev)
  local record = { 'rid', rid, 'dev', dev, 'patchId', ro.patchId, 'failures', 0, 'maxAttempts', ro.maxAttempts,
    'lastError', '', 'createdAt', now, 'retryAt', 0, 'finishedAt', 0, 'wave', wave, 'cancelReq', 0, 'parked', 0 }
  if offer_now and wave <= ro.openWave and redis.call('EXISTS', K.queue(B, dev)) == 0 then
    local deadline = now + ro.ack
    local hset = { 'HSET', k, 'state', 'offered', 'updatedAt', now, 'attempt', 1, 'deadline', deadline,
      'winOpens', 0, 'winEnd', 0 }
    for _, v in ipairs({ history_fields(0, now, 0, false, 'queued', false) }) do hset[#hset + 1] = v end
    for _, v in ipairs({ history_fields(1, now, 1, 'queued', 'offered', false) }) do hset[#hset + 1] = v end
    for _, v in ipairs(record) do hset[#hset + 1] = v end
    redis.call(unpack(hset))
    record_transition(B, rid, dev, tostring(wave), false, 'queued', 0, false, now, tally)
    record_transition(B, rid, dev, tostring(wave), 'queued', 'offered', 1, false, now, tally)
    redis.call('HSET', K.device(B, dev), 'active', rid)
    return 1, wave, deadline
  end
  redis.call('ZADD', K.queue(B, dev), ro.seq, rid)
  -- The record is written whole by set_state's HSET (state, updatedAt and history are its own).
  record[#record + 1] = 'attempt'
  record[#record + 1] = 0
  record[#record + 1] = 'deadline'
  record[#record + 1] = 0
  set_state(B, rid, dev, false, 'queued', 0, false, now, tostring(wave), record, 0, tally)
  return 1, wave
end

-- Removes a delivery that never started (its device stopped matching). Returns 1 if removed.
local function untarget(B, rid, dev)
  local k = K.delivery(B, rid, dev)
  local d = redis.call('HMGET', k, 'state', 'attempt', 'wave')
  if d[1] ~= 'queued' or tonumber(d[2]) ~= 0 then return 0 end
  if redis.call('HGET', K.device(B, dev), 'active') == rid then return 0 end
  redis.call('HINCRBY', K.counts(B, rid), 'w' .. d[3] .. ':queued>', 1)
  redis.call('DEL', k)
  redis.call('ZREM', K.queue(B, dev), rid)
  redis.call('ZREM', K.deviceDeliveries(B, dev), rid)
  redis.call('SREM', K.open(B, rid), dev)
  return 1
end
