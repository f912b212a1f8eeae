-- state: where one job stands in one queue: 'running', 'queued', 'dead' or nil.
-- KEYS: body leased dinfo
-- ARGV: id
-- needs: clock
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[1], id) == 1 then
  local deadline = redis.call('ZSCORE', KEYS[2], id)
  if deadline and tonumber(deadline) > clock() then
    return 'running'
  end
  return 'queued'
end
if redis.call('HEXISTS', KEYS[3], id) == 1 then
  return 'dead'
end
return false
