-- requeue_dead: move the named dead letters back to ready, priority kept, attempts reset.
-- KEYS: ready body meta info dead dbody dinfo wake
-- ARGV: id ...
-- Returns: how many letters were moved. A letter whose id is live again is dropped.
-- needs: clock make_ready wake
local now, us = clock()
local back, moved = {}, 0
for i = 1, #ARGV do
  local id = ARGV[i]
  local body = redis.call('HGET', KEYS[6], id)
  if body then
    local info = redis.call('HGET', KEYS[7], id) or '0|0|0|'
    local score = string.match(info, '^[^|]*|[^|]*|([^|]*)|') or '0'
    redis.call('ZREM', KEYS[5], id)
    redis.call('HDEL', KEYS[6], id)
    redis.call('HDEL', KEYS[7], id)
    moved = moved + 1
    if redis.call('HSETNX', KEYS[2], id, body) == 1 then
      redis.call('HSET', KEYS[3], id, '0||' .. score .. '|')
      back[#back + 1] = id
    end
  end
end
make_ready(KEYS[1], KEYS[3], KEYS[4], back, us)
if #back > 0 then
  wake(KEYS[8])
end
return moved
