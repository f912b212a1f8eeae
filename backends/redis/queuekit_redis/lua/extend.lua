-- extend: renew held leases to lease-ms from now; report the ids whose lease was lost.
-- KEYS: leased rcpt
-- ARGV: lease-ms id receipt id receipt ...
-- Returns: the ids not held (stale receipt, expired lease, or gone).
local now = clock()
local deadline = int(now + tonumber(ARGV[1]))
local lost, renew = {}, {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if held(KEYS[1], KEYS[2], id, ARGV[i + 1], now) then
    renew[#renew + 1], renew[#renew + 2] = deadline, id
  else
    lost[#lost + 1] = id
  end
end
if #renew > 0 then
  redis.call('ZADD', KEYS[1], unpack(renew))
end
return lost
