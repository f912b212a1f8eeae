-- Helpers prepended to every queuekit script (see scripts.py).
--
-- Numbers handed to redis.call are always formatted with int(): Lua 5.1 would print
-- a bare number with 14 significant digits and silently round large scores.

local function int(n)
  return string.format('%d', n)
end

-- The server clock, in milliseconds (due times, leases) and microseconds (sequence base).
local function clock()
  local t = redis.call('TIME')
  local s, u = tonumber(t[1]), tonumber(t[2])
  return s * 1000 + math.floor(u / 1000), s * 1000000 + u
end

-- The queue's epoch: created on first use, so a server that lost its data shows up
-- as a new epoch to every client that saw the old one.
local function ensure_epoch(key, candidate)
  local epoch = redis.call('GET', key)
  if epoch then
    return epoch, 0
  end
  redis.call('SET', key, candidate)
  return candidate, 1
end

-- Reserve n consecutive sequence numbers, never below base (server microseconds):
-- FIFO within a queue, and roughly by time across queues.
local function take_seq(key, n, base)
  local current = tonumber(redis.call('GET', key) or '0')
  local first = math.max(current + 1, base)
  redis.call('SET', key, int(first + n - 1))
  return first
end

-- Ready members sort by score (-priority), then by this fixed-width hex sequence.
local function ready_member(seq, id)
  return string.format('%016x', seq) .. id
end

local function wake(key)
  if redis.call('LLEN', key) == 0 then
    redis.call('RPUSH', key, '1')
  end
end

-- Put ids at the back of the ready zset, each at its stored priority.
local function make_ready(ready, prio, seqkey, ids, base)
  if #ids == 0 then
    return
  end
  local scores = redis.call('HMGET', prio, unpack(ids))
  local first = take_seq(seqkey, #ids, base)
  local args = {}
  for i = 1, #ids do
    args[2 * i - 1] = scores[i] or '0'
    args[2 * i] = ready_member(first + i - 1, ids[i])
  end
  redis.call('ZADD', ready, unpack(args))
end

-- Due delayed jobs and expired leases become ready (at most max of each per call).
local function promote(ready, delayed, leased, prio, rcpt, seqkey, now, base, max)
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', int(now), 'LIMIT', 0, max)
  if #due > 0 then
    redis.call('ZREM', delayed, unpack(due))
    make_ready(ready, prio, seqkey, due, base)
  end
  local expired = redis.call('ZRANGEBYSCORE', leased, '-inf', int(now), 'LIMIT', 0, max)
  if #expired > 0 then
    redis.call('ZREM', leased, unpack(expired))
    redis.call('HDEL', rcpt, unpack(expired))
    make_ready(ready, prio, seqkey, expired, base)
  end
end

-- A lease is held by receipt while its deadline is still ahead of the server clock.
local function held(leased, rcpt, id, receipt, now)
  if redis.call('HGET', rcpt, id) ~= receipt then
    return false
  end
  local deadline = redis.call('ZSCORE', leased, id)
  return deadline ~= false and tonumber(deadline) > now
end

-- Delete jobs' data and release their dedup keys (the caller removes them from zsets).
local function forget(body, prio, att, dkey, keys, ids)
  local owned = redis.call('HMGET', dkey, unpack(ids))
  for i = 1, #ids do
    local key = owned[i]
    if key and redis.call('HGET', keys, key) == ids[i] then
      redis.call('HDEL', keys, key)
    end
  end
  redis.call('HDEL', body, unpack(ids))
  redis.call('HDEL', prio, unpack(ids))
  redis.call('HDEL', att, unpack(ids))
  redis.call('HDEL', dkey, unpack(ids))
end
