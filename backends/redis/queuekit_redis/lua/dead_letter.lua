-- dead_letter: move held jobs to their queue's dead letters, each with its reason, in order.
-- KEYS: leased body meta keys info dead dbody dinfo
-- ARGV: id receipt reason id receipt reason ...
-- Returns: how many were moved (a stale receipt moves nothing).
-- dinfo holds 'attempts|dead-at-ms|score|reason'; dead is scored by sequence (oldest first).
-- needs: clock int parse held forget take_seq
local now, us = clock()
local ids, dedup, infos = {}, {}, {}
for i = 1, #ARGV, 3 do
  local id = ARGV[i]
  local meta = held(KEYS[1], KEYS[3], id, ARGV[i + 1], now)
  if meta then
    local att, _, score, key = parse(meta)
    redis.call('ZREM', KEYS[1], id)  -- no longer held: a repeat of it in this batch moves nothing
    ids[#ids + 1], dedup[#dedup + 1] = id, key
    infos[#infos + 1] = int(att) .. '|' .. int(now) .. '|' .. score .. '|' .. ARGV[i + 2]
  end
end
if #ids == 0 then
  return 0
end
local bodies = redis.call('HMGET', KEYS[2], unpack(ids))
forget(KEYS[2], KEYS[3], KEYS[4], ids, dedup)
local first = take_seq(KEYS[5], #ids, us)
local order, stored, info = {}, {}, {}
for i = 1, #ids do
  order[2 * i - 1], order[2 * i] = int(first + i - 1), ids[i]
  stored[2 * i - 1], stored[2 * i] = ids[i], bodies[i] or ''
  info[2 * i - 1], info[2 * i] = ids[i], infos[i]
end
redis.call('ZADD', KEYS[6], unpack(order))
redis.call('HSET', KEYS[7], unpack(stored))
redis.call('HSET', KEYS[8], unpack(info))
return #ids
