-- extend: renew held leases to lease-ms from now; report the ids whose lease was lost.
-- KEYS: leased meta
-- ARGV: lease-ms id receipt id receipt ...
-- Returns: the ids not held (stale receipt, expired lease, or gone).
-- needs: clock int parse
local now = clock()
local deadline = int(now + tonumber(ARGV[1]))
local ids, receipts = {}, {}
for i = 2, #ARGV, 2 do
  ids[#ids + 1], receipts[#receipts + 1] = ARGV[i], ARGV[i + 1]
end
local metas = redis.call('HMGET', KEYS[2], unpack(ids))
local deadlines = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local lost, renew = {}, {}
for i = 1, #ids do
  local _, receipt = parse(metas[i])
  if receipt == receipts[i] and receipt ~= '' and deadlines[i] and tonumber(deadlines[i]) > now then
    renew[#renew + 1], renew[#renew + 2] = deadline, ids[i]
  else
    lost[#lost + 1] = ids[i]
  end
end
if #renew > 0 then
  redis.call('ZADD', KEYS[1], unpack(renew))
end
return lost
