-- waiting: list a queue's ready jobs (reserve order) or delayed ones (soonest due first), taking nothing.
-- KEYS: ready delayed body meta
-- ARGV: which ('ready' or 'delayed'), limit
-- Returns: id body meta due-ms per job (meta as stored, '' for a fresh job; due-ms '' for ready jobs).
-- needs:
local limit = tonumber(ARGV[2])
local ids, dues = {}, {}
if ARGV[1] == 'delayed' then
  local found = redis.call('ZRANGE', KEYS[2], 0, limit - 1, 'WITHSCORES')
  for i = 1, #found, 2 do
    ids[#ids + 1], dues[#dues + 1] = found[i], found[i + 1]
  end
else
  for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, limit - 1)) do
    ids[#ids + 1], dues[#dues + 1] = string.sub(member, 17), ''
  end
end
if #ids == 0 then
  return {}
end
local bodies = redis.call('HMGET', KEYS[3], unpack(ids))
local metas = redis.call('HMGET', KEYS[4], unpack(ids))
local out = {}
for i = 1, #ids do
  local n = 4 * (i - 1)
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = ids[i], bodies[i] or '', metas[i] or '', dues[i]
end
return out
