-- stats: count a queue's jobs by state on the server clock, without changing anything.
-- Due delayed jobs and expired leases count as ready, as reserve would promote them.
-- KEYS: ready delayed leased dead
-- Returns: ready delayed in-flight dead
-- needs: clock int
local now = int(clock())
local due = redis.call('ZCOUNT', KEYS[2], '-inf', now)
local expired = redis.call('ZCOUNT', KEYS[3], '-inf', now)
return {
  redis.call('ZCARD', KEYS[1]) + due + expired,
  redis.call('ZCARD', KEYS[2]) - due,
  redis.call('ZCARD', KEYS[3]) - expired,
  redis.call('ZCARD', KEYS[4]),
}
