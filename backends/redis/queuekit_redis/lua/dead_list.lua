-- dead_list: the oldest dead letters of a queue.
-- KEYS: dead dbody dinfo
-- ARGV: limit
-- Returns: id body info per letter (info as stored by dead_letter).
-- needs:
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then
  return {}
end
local bodies = redis.call('HMGET', KEYS[2], unpack(ids))
local infos = redis.call('HMGET', KEYS[3], unpack(ids))
local out = {}
for i = 1, #ids do
  out[3 * i - 2], out[3 * i - 1], out[3 * i] = ids[i], bodies[i] or '', infos[i] or '0|0|0|'
end
return out
