-- nack: return a held job, ready now (behind its priority's queue) or after delay-ms.
-- KEYS: ready delayed leased meta info wake
-- ARGV: id receipt delay-ms count-attempt(1|0)
-- Returns: 1 if the job was returned, 0 for a stale receipt.
-- needs: clock int parse held make_ready wake
local now, us = clock()
local id = ARGV[1]
local meta = held(KEYS[3], KEYS[4], id, ARGV[2], now)
if not meta then
  return 0
end
local att, _, score, key = parse(meta)
if ARGV[4] == '0' then
  att = att - 1
end
redis.call('HSET', KEYS[4], id, int(att) .. '||' .. score .. '|' .. key)
redis.call('ZREM', KEYS[3], id)
local delay = tonumber(ARGV[3])
if delay > 0 then
  redis.call('ZADD', KEYS[2], int(now + delay), id)
else
  make_ready(KEYS[1], KEYS[4], KEYS[5], {id}, us)
end
wake(KEYS[6])
return 1
