-- kv_delete: delete one key-value entry if its value is the expected one.
-- KEYS: the entry's key
-- ARGV: expected
-- Returns: 1 if deleted, else 0.
-- needs:
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
return redis.call('DEL', KEYS[1])
