-- dead_letter: move a held job to its queue's dead letters with the reason.
-- KEYS: leased body meta keys info dead dbody dinfo
-- ARGV: id receipt reason
-- Returns: 1 if moved, 0 for a stale receipt.
-- dinfo holds 'attempts|dead-at-ms|score|reason'; dead is scored by sequence (oldest first).
-- needs: clock int parse held forget take_seq
local now, us = clock()
local id = ARGV[1]
local meta = held(KEYS[1], KEYS[3], id, ARGV[2], now)
if not meta then
  return 0
end
local att, _, score, key = parse(meta)
local body = redis.call('HGET', KEYS[2], id) or ''
redis.call('ZREM', KEYS[1], id)
forget(KEYS[2], KEYS[3], KEYS[4], {id}, {key})
redis.call('ZADD', KEYS[6], int(take_seq(KEYS[5], 1, us)), id)
redis.call('HSET', KEYS[7], id, body)
redis.call('HSET', KEYS[8], id, int(att) .. '|' .. int(now) .. '|' .. score .. '|' .. ARGV[3])
return 1
