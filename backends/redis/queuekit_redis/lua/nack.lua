-- nack: return a held job, ready now (behind its priority's queue) or after delay-ms.
-- KEYS: ready delayed leased prio att rcpt seq wake
-- ARGV: id receipt delay-ms count-attempt(1|0)
-- Returns: 1 if the job was returned, 0 for a stale receipt.
local now, us = clock()
local id = ARGV[1]
if not held(KEYS[3], KEYS[6], id, ARGV[2], now) then
  return 0
end
if ARGV[4] == '0' then
  redis.call('HINCRBY', KEYS[5], id, -1)
end
redis.call('ZREM', KEYS[3], id)
redis.call('HDEL', KEYS[6], id)
local delay = tonumber(ARGV[3])
if delay > 0 then
  redis.call('ZADD', KEYS[2], int(now + delay), id)
else
  make_ready(KEYS[1], KEYS[4], KEYS[7], {id}, us)
end
wake(KEYS[8])
return 1
