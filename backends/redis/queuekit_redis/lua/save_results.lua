-- save_results: store outcomes, each under its own key with a time to live.
-- KEYS: one result key per outcome (any slots: a standalone server only; on a cluster,
--       one call per slot)
-- ARGV: ttl-ms value value ...
-- Returns: how many were stored.
-- needs:
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ARGV[1])
end
return #KEYS
