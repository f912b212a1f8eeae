-- kv_incr: add to a counter; a counter created here gets the time to live.
-- KEYS: the counter's key
-- ARGV: amount ttl-ms (0: no expiry)
-- Returns: the new value.
-- needs:
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
