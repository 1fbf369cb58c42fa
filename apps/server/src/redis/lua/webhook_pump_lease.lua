--[[ webhook_pump_lease: one pod at a time fans the event streams out into webhook deliveries; it holds
this lease and renews it each pass. When it dies, the lease runs out and any pod takes over.
KEYS[1]  pump lease key
ARGV     1 pod instance, 2 lease ms
Returns  1 when this pod holds the lease (taken or renewed), 0 when another pod does
]]
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
