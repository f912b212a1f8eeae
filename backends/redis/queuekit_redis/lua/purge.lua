-- purge: delete up to max ready, delayed and lease-expired jobs (held leases stay).
-- KEYS: ready delayed leased body prio att rcpt dkey keys
-- ARGV: max
-- Returns: how many were deleted (call again while it returns max).
local now = int(clock())
local max = tonumber(ARGV[1])
local ids = {}
local popped = redis.call('ZPOPMIN', KEYS[1], max)
for i = 1, #popped, 2 do
  ids[#ids + 1] = string.sub(popped[i], 17)
end
for _, z in ipairs({KEYS[2], KEYS[3]}) do
  if #ids < max then
    local more = z == KEYS[2] and redis.call('ZRANGE', z, 0, max - #ids - 1)
      or redis.call('ZRANGEBYSCORE', z, '-inf', now, 'LIMIT', 0, max - #ids)
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
redis.call('HDEL', KEYS[7], unpack(ids))
forget(KEYS[4], KEYS[5], KEYS[6], KEYS[8], KEYS[9], ids)
return #ids
