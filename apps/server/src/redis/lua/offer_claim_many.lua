--[[ offer_claim_many: offer_claim for many devices of one bucket in one call (a rollout's fan-out,
a pod's broadcast, a batch of hints): one round trip and one script start instead of one per device.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 grace ms, 3.. pairs of device id and the connection the claim is made
         for (all devices in this bucket; no slot grants here)
Returns  one offer_claim reply per device, in order ({'NONE'} | {'SLOT', …} | {'CANCEL', …} | {'OFFER', …})
]]
-- @include time
-- @include claims
local B, grace = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local replies = {}
-- Counters and due entries of the offers, written once at the end.
local batch = new_batch()
for i = 3, #ARGV, 2 do
  replies[#replies + 1] = claim_offer(B, ARGV[i], grace, '', ARGV[i + 1], now, batch)
end
flush_batch(B, batch)
return replies
