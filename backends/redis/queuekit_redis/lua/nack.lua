-- nack: return held jobs, each ready now (behind its priority's queue) or after its delay-ms.
-- KEYS: ready delayed leased meta info wake
-- ARGV: count-attempt(1|0) id receipt delay-ms id receipt delay-ms ...
-- Returns: how many jobs were returned (a stale receipt returns nothing).
-- needs: clock int parse held make_ready wake
local now, us = clock()
local ready, later = {}, {}
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  local meta = held(KEYS[3], KEYS[4], id, ARGV[i + 1], now)
  if meta then
    local att, _, score, key = parse(meta)
    if ARGV[1] == '0' then
      att = att - 1
    end
    redis.call('HSET', KEYS[4], id, int(att) .. '||' .. score .. '|' .. key)
    redis.call('ZREM', KEYS[3], id)
    local delay = tonumber(ARGV[i + 2])
    if delay > 0 then
      later[#later + 1], later[#later + 2] = int(now + delay), id
    else
      ready[#ready + 1] = id
    end
  end
end
local count = #ready + #later / 2
if count == 0 then
  return 0
end
if #later > 0 then
  redis.call('ZADD', KEYS[2], unpack(later))
end
make_ready(KEYS[1], KEYS[4], KEYS[5], ready, us)
wake(KEYS[6])
return count
