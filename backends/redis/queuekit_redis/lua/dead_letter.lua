-- dead_letter: move a held job to its queue's dead letters with the reason.
-- KEYS: leased body prio att rcpt dkey keys seq dead dbody dinfo
-- ARGV: id receipt reason
-- Returns: 1 if moved, 0 for a stale receipt.
-- dinfo holds 'attempts|dead-at-ms|score|reason'; dead is scored by sequence (oldest first).
local now, us = clock()
local id = ARGV[1]
if not held(KEYS[1], KEYS[5], id, ARGV[2], now) then
  return 0
end
local body = redis.call('HGET', KEYS[2], id)
local att = redis.call('HGET', KEYS[4], id) or '0'
local score = redis.call('HGET', KEYS[3], id) or '0'
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[5], id)
forget(KEYS[2], KEYS[3], KEYS[4], KEYS[6], KEYS[7], {id})
redis.call('ZADD', KEYS[9], int(take_seq(KEYS[8], 1, us)), id)
redis.call('HSET', KEYS[10], id, body)
redis.call('HSET', KEYS[11], id, att .. '|' .. int(now) .. '|' .. score .. '|' .. ARGV[3])
return 1
