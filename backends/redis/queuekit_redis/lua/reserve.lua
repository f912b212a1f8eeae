-- reserve: lease up to limit ready jobs from one or more queues, highest priority first,
-- FIFO within a priority; due delayed jobs and expired leases are promoted first.
-- KEYS, 7 per queue: ready delayed leased body meta info wake
-- ARGV: epoch-candidate limit lease-ms promote-max
-- Returns: epoch and created-flag per queue; then milliseconds until the next delayed
-- job or lease falls due (-1: none; only computed when nothing was taken); then per
-- delivery: queue-index id body attempts receipt priority.
-- needs: clock ensure_epoch int parse promote take_seq wake
local W = 7
local nq = #KEYS / W
local limit, lease, max = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now, us = clock()
local out = {}
for q = 1, nq do
  local k = (q - 1) * W
  out[2 * q - 1], out[2 * q] = ensure_epoch(KEYS[k + 6], ARGV[1], us)
  promote(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 5], KEYS[k + 6], now, us, max)
end

-- picks[q] = ready members taken from queue q; order = (q, position) in delivery order
local picks, order = {}, {}
for q = 1, nq do
  picks[q] = {}
end
if nq == 1 then
  local popped = redis.call('ZPOPMIN', KEYS[1], limit)
  for i = 1, #popped, 2 do
    picks[1][#picks[1] + 1] = popped[i]
    order[#order + 1] = 1
  end
else
  local heads, pos = {}, {}
  for q = 1, nq do
    heads[q], pos[q] = redis.call('ZRANGE', KEYS[(q - 1) * W + 1], 0, limit - 1, 'WITHSCORES'), 1
  end
  while #order < limit do
    local best, bscore, bmember = nil, nil, nil
    for q = 1, nq do
      local h, p = heads[q], pos[q]
      if p <= #h then
        local s, m = tonumber(h[p + 1]), h[p]
        if best == nil or s < bscore or (s == bscore and m < bmember) then
          best, bscore, bmember = q, s, m
        end
      end
    end
    if best == nil then
      break
    end
    picks[best][#picks[best] + 1] = bmember
    order[#order + 1] = best
    pos[best] = pos[best] + 2
  end
  for q = 1, nq do
    if #picks[q] > 0 then
      redis.call('ZPOPMIN', KEYS[(q - 1) * W + 1], #picks[q])
    end
  end
end

if #order == 0 then
  local soonest = -1
  for q = 1, nq do
    local k = (q - 1) * W
    for _, z in ipairs({KEYS[k + 2], KEYS[k + 3]}) do
      local first = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
      if #first > 0 then
        local wait = math.max(tonumber(first[2]) - now, 0)
        if soonest < 0 or wait < soonest then
          soonest = wait
        end
      end
    end
  end
  out[#out + 1] = soonest
  return out
end
out[#out + 1] = 0

-- lease queue by queue: attempts + 1, a fresh receipt, a deadline
local leased = {}
local deadline = int(now + lease)
for q = 1, nq do
  local members = picks[q]
  local got = {}
  leased[q] = got
  if #members > 0 then
    local k = (q - 1) * W
    local ids = {}
    for i = 1, #members do
      ids[i] = string.sub(members[i], 17)
    end
    local bodies = redis.call('HMGET', KEYS[k + 4], unpack(ids))
    local metas = redis.call('HMGET', KEYS[k + 5], unpack(ids))
    local first = take_seq(KEYS[k + 6], #ids, us)
    local metaargs, leaseargs = {}, {}
    for i = 1, #ids do
      if bodies[i] then
        local id = ids[i]
        local att, _, score, key = parse(metas[i])
        local receipt = int(first + i - 1)
        local n = #metaargs
        metaargs[n + 1], metaargs[n + 2] = id, (att + 1) .. '|' .. receipt .. '|' .. score .. '|' .. key
        leaseargs[n + 1], leaseargs[n + 2] = deadline, id
        -- one delivery: queue-index id body attempts receipt priority
        got[i] = {q, id, bodies[i], att + 1, receipt, -tonumber(score)}
      end
    end
    if #metaargs > 0 then
      redis.call('HSET', KEYS[k + 5], unpack(metaargs))
      redis.call('ZADD', KEYS[k + 3], unpack(leaseargs))
    end
    if redis.call('ZCARD', KEYS[k + 1]) > 0 then
      wake(KEYS[k + 7])
    end
  end
end
local seen = {}
for j = 1, #order do
  local q = order[j]
  seen[q] = (seen[q] or 0) + 1
  local got = leased[q][seen[q]]
  if got then
    local n = #out
    for f = 1, 6 do
      out[n + f] = got[f]
    end
  end
end
return out
