-- Maintenance windows, in the device's local time. A rollout's bucket copy holds its windows
-- (`windows`: "mask,start,end;…", mask bit d for weekday d with 0 = Sunday, start and end in
-- seconds of the local day; end <= start crosses midnight) and its zone (`wz`); a device's hash
-- may hold its own zone (`tz`, from its `tz` label). A zone is "offset,until,next": its UTC offset
-- in seconds now, when that changes (epoch ms, 0: not within a year) and the offset after. The pod
-- computes them (ICU); a script only adds numbers.
-- @include deliveries

local DAY_MS = 86400000

local function zone_offset_ms(info, now)
  if not info or info == '' then return nil end
  local off, untl, nxt = string.match(info, '^(-?%d+),(%d+),(-?%d+)$')
  if not off then return nil end
  if tonumber(untl) > 0 and now >= tonumber(untl) then return tonumber(nxt) * 1000 end
  return tonumber(off) * 1000
end

local function has_day(mask, day) return math.floor(mask / 2 ^ day) % 2 == 1 end

-- The device's maintenance window that is open now or opens next: opensAt, closesAt (epoch ms);
-- opensAt <= now means inside. nil when the rollout has no windows.
local function window_of(B, ro, dev, now)
  if ro.windows == '' then return nil end
  local offset = zone_offset_ms(redis.call('HGET', K.device(B, dev), 'tz'), now)
    or zone_offset_ms(ro.wz, now) or 0
  local here = now + offset
  local midnight = here - (here % DAY_MS)
  local today = (math.floor(here / DAY_MS) + 4) % 7 -- 1970-01-01 was a Thursday
  local opens, closes
  for d = -1, 7 do
    for mask, s, e in string.gmatch(ro.windows, '(%d+),(%d+),(%d+)') do
      if has_day(tonumber(mask), (today + d) % 7) then
        local o = midnight + d * DAY_MS + tonumber(s) * 1000
        local c = midnight + d * DAY_MS + tonumber(e) * 1000
        if tonumber(e) <= tonumber(s) then c = c + DAY_MS end
        if c > here and (opens == nil or o < opens) then opens, closes = o, c end
      end
    end
  end
  if opens == nil then return nil end
  return opens - offset, closes - offset
end

-- A queued delivery waits for its device's window: counted once, per wave (`w<wave>:windowed`).
-- `was` and `wave`: the delivery's winWait (as a boolean) and wave, when the caller read them.
local function mark_window_wait(B, rid, k, waiting, was, wave)
  if was == nil then was = redis.call('HGET', k, 'winWait') == '1' end
  if was == waiting then return end
  wave = wave or redis.call('HGET', k, 'wave') or '0'
  local step = waiting and 1 or -1
  redis.call('HSET', k, 'winWait', waiting and 1 or 0)
  redis.call('HINCRBY', K.counts(B, rid), 'w' .. wave .. ':windowed', step)
end
