-- ack: delete finished jobs whose lease the receipt still holds; stale receipts do nothing.
-- KEYS: leased body meta keys
-- ARGV: id receipt id receipt ...
-- Returns: how many jobs were deleted.
-- needs: clock parse forget
local now = clock()
local ids, receipts = {}, {}
for i = 1, #ARGV, 2 do
  ids[#ids + 1], receipts[#receipts + 1] = ARGV[i], ARGV[i + 1]
end
local metas = redis.call('HMGET', KEYS[3], unpack(ids))
local deadlines = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local done, dedup = {}, {}
for i = 1, #ids do
  local _, receipt, _, key = parse(metas[i])
  if receipt == receipts[i] and receipt ~= '' and deadlines[i] and tonumber(deadlines[i]) > now then
    done[#done + 1], dedup[#dedup + 1] = ids[i], key
  end
end
if #done == 0 then
  return 0
end
redis.call('ZREM', KEYS[1], unpack(done))
forget(KEYS[2], KEYS[3], KEYS[4], done, dedup)
return #done
