--[[ offer_claim: what should the device get now? Called by the pod holding the device.
KEYS[1]  bucket due set
ARGV     1 B bucket prefix, 2 deviceId, 3 grace ms, 4 rollout id the pod holds a fresh slot for ('' if none),
         5 the connection the claim is made for ('' for any)
Returns  {'NONE'}                      nothing to send now
         {'SLOT', rolloutId}           the next delivery's rollout has limits: get a slot, then call again
         {'CANCEL', rolloutId, attempt} the in-flight delivery's rollout was canceled: ask the device to stop
         {'OFFER', rolloutId, attempt, deadlineAt, ackTimeoutMs, patchId, name, version, notes, artifact,
                                        signature, windowOpensAt, windowClosesAt, delta (JSON or '')}
Starts the device's next startable delivery (queued -> offered, attempt+1), starts a retry whose
backoff passed, or returns the in-flight offer unchanged (re-sent after a reconnect; the device
dedupes by deliveryId and attempt). A queued active delivery whose rollout was paused gives way.
Only for the connection that holds the device: a claim from a connection that was replaced (its
pod may still be finishing a pass for it) gets {'NONE'} and changes nothing.
]]
-- @include time
-- @include claims
return claim_offer(ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5] or '', now_ms())
