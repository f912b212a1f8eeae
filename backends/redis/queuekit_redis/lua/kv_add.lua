-- kv_add: add a member to a set; a set created here gets the time to live.
-- KEYS: the set's key
-- ARGV: member ttl-ms (0: no expiry)
-- Returns: {1 if the member was new else 0, the set's size}.
-- needs:
local created = redis.call('EXISTS', KEYS[1]) == 0
local added = redis.call('SADD', KEYS[1], ARGV[1])
if created and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {added, redis.call('SCARD', KEYS[1])}
