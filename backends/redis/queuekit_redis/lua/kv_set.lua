-- kv_set: compare-and-set one key-value entry.
-- KEYS: the entry's key
-- ARGV: value ttl-ms (0: no expiry) expected
-- Returns: 1 if written (the current value equalled expected), else 0.
-- needs:
if redis.call('GET', KEYS[1]) ~= ARGV[3] then
  return 0
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
