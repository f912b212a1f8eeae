-- purge: delete up to max ready, delayed and lease-expired jobs (held leases stay).
-- KEYS: ready delayed leased body meta keys
-- ARGV: max
-- Returns: how many were deleted (call again while it returns max).
-- needs: clock int parse forget
local now = int(clock())
local max = tonumber(ARGV[1])
local ids = {}
local popped = redis.call('ZPOPMIN', KEYS[1], max)
for i = 1, #popped, 2 do
  ids[#ids + 1] = string.sub(popped[i], 17)
end
for _, z in ipairs({KEYS[2], KEYS[3]}) do
  if #ids < max then
    local more
    if z == KEYS[2] then
      more = redis.call('ZRANGE', z, 0, max - #ids - 1)
    else
      more = redis.call('ZRANGEBYSCORE', z, '-inf', now, 'LIMIT', 0, max - #ids)
    end
    if #more > 0 then
      redis.call('ZREM', z, unpack(more))
      for _, id in ipairs(more) do
        ids[#ids + 1] = id
      end
    end
  end
end
if #ids == 0 then
  return 0
end
local metas = redis.call('HMGET', KEYS[5], unpack(ids))
local dedup = {}
for i = 1, #ids do
  local _, _, _, key = parse(metas[i])
  dedup[i] = key
end
forget(KEYS[4], KEYS[5], KEYS[6], ids, dedup)
return #ids
