-- A delivery's state changes: counters, history and events move in the same step, so rollout counts
-- are exact at every moment without scanning devices. Every key a bucket script touches starts with
-- the bucket prefix B (ARGV[1]), which carries the bucket's hash tag: one script stays in one slot.
-- @include keys

local INFLIGHT = { offered = true, downloading = true, installing = true, verifying = true }
local FINAL = { succeeded = true, failed = true, canceled = true }
local HISTORY_MAX = 50
-- Each bucket keeps about this many delivery events (the event stream is bounded).
local EVENTS_MAX = 5000

local function nullable(value)
  if value == nil or value == false or value == '' then return cjson.null end
  return value
end

-- Rollout copies read in this script call: a claim of 100 devices reads each rollout once. No script
-- changes a copy after reading it (rollout_sync_bucket and rollout_attach write before they read).
local ROLLOUT_READS = {}

-- The bucket's copy of a rollout, as a table.
local function rollout(B, rid)
  local key = K.rollout(B, rid)
  local known = ROLLOUT_READS[key]
  if known then return known end
  local f = redis.call('HMGET', key, 'status', 'openWave', 'limited', 'ackTimeoutMs', 'version',
    'seq', 'maxAttempts', 'patchId', 'waves', 'target', 'selector', 'supersede', 'windows', 'wz',
    'downloadAhead')
  local ro = {
    status = f[1], openWave = tonumber(f[2]) or 0, limited = f[3] == '1', ack = tonumber(f[4]) or 60000,
    version = f[5], seq = f[6], maxAttempts = f[7], patchId = f[8], waves = f[9], target = f[10],
    selector = f[11], supersede = f[12] == '1', windows = f[13] or '', wz = f[14] or '',
    downloadAhead = f[15] == '1',
  }
  ROLLOUT_READS[key] = ro
  return ro
end

-- A delivery's history lives in its own record, so the HSET that changes the state writes it too:
-- no command of its own per transition. Entry i (from 1; `hn` counts them) is field
-- `h<(i-1) % HISTORY_MAX>`: the newest HISTORY_MAX are kept. An entry is "at|attempt|from|to|error",
-- short enough (without an error) for Redis to keep the record a compact listpack.
-- `fleet device show` merges the entries of a device's deliveries (records.ts).
-- Returns the field, value pairs that add an entry after `hn` entries.
local function history_fields(hn, now, attempt, from, to, err)
  local i = (tonumber(hn) or 0) + 1
  return 'hn', i, 'h' .. ((i - 1) % HISTORY_MAX), now .. '|' .. attempt .. '|' .. (from or '') .. '|' .. to .. '|' .. (err or '')
end

-- A history entry that is not a transition (e.g. a cancel requested).
local function add_history(B, rid, dev, now, attempt, state, err)
  local k = K.delivery(B, rid, dev)
  redis.call('HSET', k, history_fields(redis.call('HGET', k, 'hn'), now, attempt, state, state, err))
end

-- States in a compacted delivery (one letter each).
local STATE_CODE = { queued = 'q', offered = 'o', downloading = 'd', installing = 'i', verifying = 'v',
  succeeded = 's', failed = 'f', canceled = 'c' }
local CODE_STATE = {}
for state, code in pairs(STATE_CODE) do CODE_STATE[code] = state end

-- A finished delivery's record folds into one line of the device's archive (K.archive), and the
-- record goes: what `fleet device show` shows of it stays (state, attempt, failures, times, last
-- error, history; the patch and attempt limit are the rollout's), in about a quarter of the bytes.
-- The line is JSON: [rid, state, attempt, failures, createdAt, updatedAt, lastError, history, wave],
-- each history entry [ms after createdAt, attempt, from .. to (state letters; '' from at creation),
-- error if any].
-- The rollout leaves the device's index of deliveries (K.deviceDeliveries, emptied and gone when
-- nothing else is open): the archive's line is what keeps it from being targeted again.
local function compact(B, rid, dev)
  local k = K.delivery(B, rid, dev)
  local flat = redis.call('HGETALL', k)
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  local created = tonumber(f.createdAt) or 0
  local history = {}
  local written = tonumber(f.hn) or 0
  for i = math.max(1, written - HISTORY_MAX + 1), written do
    local entry = f['h' .. ((i - 1) % HISTORY_MAX)]
    if entry then
      local at, attempt, from, to, err = string.match(entry, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
      local compacted = { (tonumber(at) or created) - created, tonumber(attempt) or 0,
        (STATE_CODE[from] or '') .. (STATE_CODE[to] or '') }
      if err ~= '' then compacted[4] = err end
      history[#history + 1] = compacted
    end
  end
  local line = cjson.encode({ rid, STATE_CODE[f.state] or '', tonumber(f.attempt) or 0, tonumber(f.failures) or 0,
    created, tonumber(f.updatedAt) or 0, f.lastError or '', history, tonumber(f.wave) or 0 })
  redis.call('APPEND', K.archive(B, dev), '\n' .. line)
  redis.call('DEL', k)
  redis.call('ZREM', K.deviceDeliveries(B, dev), rid)
end

-- A compacted delivery's {state, attempt}, or nil (it is not in the device's archive).
local function archived(B, rid, dev)
  local lines = redis.call('GET', K.archive(B, dev))
  if not lines then return nil end
  local at = string.find(lines, '\n["' .. rid .. '"', 1, true)
  if not at then return nil end
  local line = cjson.decode(string.sub(lines, at + 1, (string.find(lines, '\n', at + 1, true) or 0) - 1))
  return { CODE_STATE[line[2]], line[3] }
end

-- A script's batch of writes to keys that many devices share (rollout counters, a rollout's open set,
-- the bucket's due set), collected while the script works through its devices and written once at its
-- end (flush_batch): an attach or a claim of a hundred devices writes each counter once. No script
-- reads those keys after writing them, so writing them later in the same script changes nothing
-- anyone can see.
local function new_batch()
  return { counts = {}, open = {}, due = {} }
end

-- Adds a value to the list kept for `key` in a batch's table.
local function batch_add(by_key, key, value)
  local list = by_key[key]
  if not list then
    list = {}
    by_key[key] = list
  end
  list[#list + 1] = value
end

-- Lua's unpack takes a few thousand values at most: long lists go in slices (of an even size, so
-- ZADD's score, member pairs stay whole).
local function call_in_slices(command, key, values)
  for i = 1, #values, 1000 do
    redis.call(command, key, unpack(values, i, math.min(i + 999, #values)))
  end
end

local function flush_batch(B, batch)
  for key, fields in pairs(batch.counts) do
    for field, n in pairs(fields) do redis.call('HINCRBY', key, field, n) end
  end
  for key, devs in pairs(batch.open) do call_in_slices('SADD', key, devs) end
  call_in_slices('ZADD', K.due(B), batch.due)
end

-- The counter a transition moves: one field per wave and (from, to) pair (`w<wave>:<from>><to>`,
-- from '' when the delivery is created). A state's count is what entered it minus what left it
-- (rollouts.ts sums them), so a transition costs one HINCRBY. `tally`: a script's batch
-- (new_batch), which collects the increments to write once.
local function count_transition(B, rid, wave, from, to, tally)
  local field = 'w' .. wave .. ':' .. (from or '') .. '>' .. to
  if tally then
    local key = K.counts(B, rid)
    local fields = tally.counts[key]
    if not fields then
      fields = {}
      tally.counts[key] = fields
    end
    fields[field] = (fields[field] or 0) + 1
  else
    redis.call('HINCRBY', K.counts(B, rid), field, 1)
  end
end

-- A transition's counter and event (set_state writes the record; a caller that writes several
-- transitions in one HSET records each).
local function record_transition(B, rid, dev, wave, from, to, attempt, err, now, tally)
  count_transition(B, rid, wave, from, to, tally)
  redis.call('XADD', K.events(B), 'MAXLEN', '~', EVENTS_MAX, '*', 'kind', 'delivery', 'rid', rid, 'dev', dev,
    'attempt', attempt, 'from', from or '', 'to', to, 'error', err or '', 'at', now)
end

-- Moves a delivery to a new state: its counter, history and event in the same step, so rollout
-- counts are exact at every moment without scanning devices.
-- `wave`, `hn`: the delivery's wave and count of history entries when the caller has read them
-- (else they are read here); `fields`: more field, value pairs the caller writes to the delivery in
-- the same HSET; `tally`: see count_transition.
local function set_state(B, rid, dev, from, to, attempt, err, now, wave, fields, hn, tally)
  local k = K.delivery(B, rid, dev)
  if wave == nil or hn == nil then
    local d = redis.call('HMGET', k, 'wave', 'hn')
    wave, hn = wave or d[1] or '0', hn or d[2] or 0
  end
  local hset = { 'HSET', k, 'state', to, 'updatedAt', now }
  for _, v in ipairs({ history_fields(hn, now, attempt, from, to, err) }) do hset[#hset + 1] = v end
  if FINAL[to] then
    for _, v in ipairs({ 'finishedAt', now, 'retryAt', 0, 'deadline', 0, 'cancelReq', 0 }) do hset[#hset + 1] = v end
    redis.call('SREM', K.open(B, rid), dev)
  end
  for _, v in ipairs(fields or {}) do hset[#hset + 1] = v end
  redis.call(unpack(hset))
  record_transition(B, rid, dev, wave, from, to, attempt, err, now, tally)
  if FINAL[to] then compact(B, rid, dev) end
end

-- Equal-jitter exponential backoff. The jitter is a hash of (device, rollout, attempt): spread
-- across devices, yet the same if a script is replayed.
local function backoff_ms(B, rid, dev, failures)
  local ro = redis.call('HMGET', K.rollout(B, rid), 'backoffBaseMs', 'backoffMaxMs')
  local base, cap = tonumber(ro[1]), tonumber(ro[2])
  local delay = math.min(cap, base * 2 ^ (failures - 1))
  local frac = tonumber(string.sub(redis.sha1hex(dev .. '|' .. rid .. '|' .. failures), 1, 8), 16) / 4294967295
  return math.floor(delay / 2 + frac * delay / 2)
end

-- `known`: the delivery's {wave, winWait, hn} when the caller read them (else they are read here).
-- `device`: {active, write} when the caller read the device's active delivery and writes the device
-- itself afterwards (`write`: the HSET's command table, to which clearing `active` is added).
local function finish(B, rid, dev, from, to, attempt, err, now, known, device)
  local k = K.delivery(B, rid, dev)
  local d = known or redis.call('HMGET', k, 'wave', 'winWait', 'hn')
  local wave = d[1] or '0'
  if d[2] == '1' then
    -- It ended while waiting for a maintenance window: no longer counted as waiting.
    redis.call('HINCRBY', K.counts(B, rid), 'w' .. wave .. ':windowed', -1)
  end
  -- Its record is compacted here: nothing writes it after this.
  set_state(B, rid, dev, from, to, attempt, err, now, wave, nil, d[3] or 0)
  local devkey = K.device(B, dev)
  if device then
    if device.active == rid then
      local w = device.write
      w[#w + 1] = 'active'
      w[#w + 1] = ''
      device.active = ''
    end
  elseif redis.call('HGET', devkey, 'active') == rid then
    redis.call('HSET', devkey, 'active', '')
  end
end

-- A failed attempt (reported, timed out while connected, or rolled back): back off and retry, or
-- give up. A rollout that was canceled or aborted does not retry. Returns the new state.
local function fail_attempt(B, rid, dev, from, attempt, err, now)
  local k = K.delivery(B, rid, dev)
  local failures = redis.call('HINCRBY', k, 'failures', 1)
  redis.call('HSET', k, 'lastError', err)
  local status = redis.call('HGET', K.rollout(B, rid), 'status')
  if failures >= tonumber(redis.call('HGET', k, 'maxAttempts')) or status == 'canceled' or status == 'aborted' then
    finish(B, rid, dev, from, 'failed', attempt, err, now)
    return 'failed'
  end
  redis.call('HSET', k, 'retryAt', now + backoff_ms(B, rid, dev, failures), 'deadline', 0)
  set_state(B, rid, dev, from, 'queued', attempt, err, now)
  return 'queued'
end
