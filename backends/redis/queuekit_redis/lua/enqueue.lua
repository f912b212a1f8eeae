-- enqueue: store a batch of jobs on one or more queues, atomically.
-- KEYS, 7 per queue: ready delayed body meta keys info wake
-- ARGV: epoch-candidate, then per job: id body options
--   options is '' (the first queue, priority 0, no delay, no key) or
--   'queue-index|score|delay-ms|dedup-key'
-- Returns: epoch and created-flag per queue, then (job-number, holder-id) for every
-- job not stored because its dedup key is held by another job.
-- needs: clock int ready_member wake
local W = 7
local nq = #KEYS / W
local now, us = clock()
local out, seqs, ready, metas, delayed = {}, {}, {}, {}, {}
for q = 1, nq do
  -- the info hash holds the epoch (created with the queue's data) and the sequence
  local info = redis.call('HMGET', KEYS[(q - 1) * W + 6], 'epoch', 'seq')
  if info[1] then
    out[2 * q - 1], out[2 * q] = info[1], 0
  else
    out[2 * q - 1], out[2 * q] = ARGV[1] .. '-' .. int(us), 1
  end
  seqs[q] = tonumber(info[2] or '0')
  ready[q], metas[q], delayed[q] = {}, {}, {}
end
local n = 0
for i = 2, #ARGV, 3 do
  n = n + 1
  local id, body, options = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local q, score, delay, key = 1, '0', 0, ''
  if options ~= '' then
    q, score, delay, key = string.match(options, '^(%d+)|([^|]*)|([^|]*)|(.*)$')
    q, delay = tonumber(q), tonumber(delay)
  end
  local k = (q - 1) * W
  local holder = false
  if key ~= '' then
    holder = redis.call('HGET', KEYS[k + 5], key)
  end
  if holder then
    out[#out + 1], out[#out + 2] = n, holder
  elseif redis.call('HSETNX', KEYS[k + 3], id, body) == 1 then
    if key ~= '' then
      redis.call('HSET', KEYS[k + 5], key, id)
    end
    if score ~= '0' or key ~= '' then
      local m = metas[q]
      m[#m + 1], m[#m + 2] = id, '0||' .. score .. '|' .. key
    end
    if delay > 0 then
      local d = delayed[q]
      d[#d + 1], d[#d + 2] = int(now + delay), id
    else
      seqs[q] = math.max(seqs[q] + 1, us + n)
      local r = ready[q]
      r[#r + 1], r[#r + 2] = score, ready_member(seqs[q], id)
    end
  end
end
for q = 1, nq do
  local k = (q - 1) * W
  if #metas[q] > 0 then
    redis.call('HSET', KEYS[k + 4], unpack(metas[q]))
  end
  if #delayed[q] > 0 then
    redis.call('ZADD', KEYS[k + 2], unpack(delayed[q]))
  end
  if #ready[q] > 0 then
    redis.call('ZADD', KEYS[k + 1], unpack(ready[q]))
  end
  if out[2 * q] == 1 then
    redis.call('HSET', KEYS[k + 6], 'epoch', out[2 * q - 1], 'seq', int(seqs[q]))
  elseif #ready[q] > 0 then
    redis.call('HSET', KEYS[k + 6], 'seq', int(seqs[q]))
  end
  if #ready[q] > 0 or #delayed[q] > 0 then
    wake(KEYS[k + 7])
  end
end
return out
