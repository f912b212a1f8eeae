-- reserve: lease up to limit ready jobs from one or more queues, highest priority first,
-- FIFO within a priority; due delayed jobs and expired leases are promoted first.
-- KEYS, 10 per queue: ready delayed leased body prio att rcpt seq wake epoch
-- ARGV: epoch-candidate limit lease-ms promote-max
-- Returns: epoch and created-flag per queue; then milliseconds until the next delayed
-- job or lease falls due (-1: none; only computed when nothing was taken); then per
-- delivery: queue-index id body attempts receipt score.
local W = 10
local nq = #KEYS / W
local limit, lease, max = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now, us = clock()
local out = {}
for q = 1, nq do
  local k = (q - 1) * W
  out[2 * q - 1], out[2 * q] = ensure_epoch(KEYS[k + 10], ARGV[1])
  promote(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 5], KEYS[k + 7], KEYS[k + 8], now, us, max)
end

-- picks: flat (queue-index, member, score) in delivery order
local picks = {}
if nq == 1 then
  local popped = redis.call('ZPOPMIN', KEYS[1], limit)
  for i = 1, #popped, 2 do
    picks[#picks + 1], picks[#picks + 2], picks[#picks + 3] = 1, popped[i], popped[i + 1]
  end
else
  local heads, pos, counts = {}, {}, {}
  for q = 1, nq do
    heads[q] = redis.call('ZRANGE', KEYS[(q - 1) * W + 1], 0, limit - 1, 'WITHSCORES')
    pos[q], counts[q] = 1, 0
  end
  while #picks < 3 * limit do
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
    picks[#picks + 1], picks[#picks + 2], picks[#picks + 3] = best, bmember, heads[best][pos[best] + 1]
    pos[best], counts[best] = pos[best] + 2, counts[best] + 1
  end
  for q = 1, nq do
    if counts[q] > 0 then
      redis.call('ZPOPMIN', KEYS[(q - 1) * W + 1], counts[q])
    end
  end
end

if #picks == 0 then
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

-- lease the picks queue by queue: attempts+1, a fresh receipt, a deadline
local byq = {}
for i = 1, #picks, 3 do
  local q = picks[i]
  byq[q] = byq[q] or {}
  local ids = byq[q]
  ids[#ids + 1] = string.sub(picks[i + 1], 17)
end
local leased = {}
for q, ids in pairs(byq) do
  local k = (q - 1) * W
  local bodies = redis.call('HMGET', KEYS[k + 4], unpack(ids))
  local atts = redis.call('HMGET', KEYS[k + 6], unpack(ids))
  local first = take_seq(KEYS[k + 8], #ids, us)
  local attargs, rcptargs, leaseargs = {}, {}, {}
  local until_ms = int(now + lease)
  for i = 1, #ids do
    local id = ids[i]
    if bodies[i] then
      local att = int(tonumber(atts[i] or '0') + 1)
      local receipt = int(first + i - 1)
      attargs[#attargs + 1], attargs[#attargs + 2] = id, att
      rcptargs[#rcptargs + 1], rcptargs[#rcptargs + 2] = id, receipt
      leaseargs[#leaseargs + 1], leaseargs[#leaseargs + 2] = until_ms, id
      leased[q .. ':' .. id] = {bodies[i], att, receipt}
    end
  end
  if #attargs > 0 then
    redis.call('HSET', KEYS[k + 6], unpack(attargs))
    redis.call('HSET', KEYS[k + 7], unpack(rcptargs))
    redis.call('ZADD', KEYS[k + 3], unpack(leaseargs))
  end
  if redis.call('ZCARD', KEYS[k + 1]) > 0 then
    wake(KEYS[k + 9])
  end
end
for i = 1, #picks, 3 do
  local q, id = picks[i], string.sub(picks[i + 1], 17)
  local got = leased[q .. ':' .. id]
  if got then
    local n = #out
    out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5], out[n + 6] = q, id, got[1], got[2], got[3], picks[i + 2]
  end
end
return out
