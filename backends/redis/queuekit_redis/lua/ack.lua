-- ack: delete finished jobs whose lease the receipt still holds; stale receipts do nothing.
-- KEYS: leased body prio att rcpt dkey keys
-- ARGV: id receipt id receipt ...
-- Returns: how many jobs were deleted.
local now = clock()
local ids, receipts = {}, {}
for i = 1, #ARGV, 2 do
  ids[#ids + 1], receipts[#receipts + 1] = ARGV[i], ARGV[i + 1]
end
local have = redis.call('HMGET', KEYS[5], unpack(ids))
local deadlines = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local done = {}
for i = 1, #ids do
  if have[i] == receipts[i] and deadlines[i] and tonumber(deadlines[i]) > now then
    done[#done + 1] = ids[i]
  end
end
if #done == 0 then
  return 0
end
redis.call('ZREM', KEYS[1], unpack(done))
redis.call('HDEL', KEYS[5], unpack(done))
forget(KEYS[2], KEYS[3], KEYS[4], KEYS[6], KEYS[7], done)
return #done
