-- Helpers for the queuekit scripts. Each block starts with '--- name: dependencies';
-- scripts.py prepends to a script only the blocks its '-- needs:' line names (and
-- what those need): every helper defined costs time on every call.
--
-- Numbers handed to redis.call are always formatted with int(): Lua 5.1 would print
-- a bare number with 14 significant digits and silently round large scores.
--
-- A job's mutable facts live in one 'meta' field, 'attempts|receipt|score|key'
-- (score = -priority; receipt set while leased); a missing field means '0||0|'.

--- int
local function int(n)
  return string.format('%d', n)
end

--- clock
-- The server clock, in milliseconds (due times, leases) and microseconds (sequence base).
local function clock()
  local t = redis.call('TIME')
  local s, u = tonumber(t[1]), tonumber(t[2])
  return s * 1000 + math.floor(u / 1000), s * 1000000 + u
end

--- parse
-- attempts (number), receipt, score, key of a meta field (false: a fresh job).
local function parse(meta)
  if not meta then
    return 0, '', '0', ''
  end
  local att, receipt, score, key = string.match(meta, '^(%d*)|(%d*)|([^|]*)|(.*)$')
  return tonumber(att) or 0, receipt, score, key
end

--- ensure_epoch: int
-- The queue's epoch (field 'epoch' of its info hash): created on first use (client token
-- + server microseconds), so a server that lost its data shows up as a new epoch to every
-- client that saw the old one.
local function ensure_epoch(info, candidate, us)
  local epoch = redis.call('HGET', info, 'epoch')
  if epoch then
    return epoch, 0
  end
  epoch = candidate .. '-' .. int(us)
  redis.call('HSET', info, 'epoch', epoch)
  return epoch, 1
end

--- take_seq: int
-- Reserve n consecutive sequence numbers (field 'seq' of the info hash), never below base
-- (server microseconds): FIFO within a queue, and roughly by time across queues.
local function take_seq(info, n, base)
  local current = tonumber(redis.call('HGET', info, 'seq') or '0')
  local first = math.max(current + 1, base)
  redis.call('HSET', info, 'seq', int(first + n - 1))
  return first
end

--- ready_member
-- Ready members sort by score (-priority), then by this fixed-width hex sequence.
local function ready_member(seq, id)
  return string.format('%016x', seq) .. id
end

--- wake
-- Leave one wake-up token for reserves blocked in BLPOP (never more than one).
local function wake(key)
  if redis.call('LLEN', key) == 0 then
    redis.call('RPUSH', key, '1')
  end
end

--- make_ready: parse take_seq ready_member
-- Put ids at the back of the ready zset, each at its stored priority.
local function make_ready(ready, meta, info, ids, base)
  if #ids == 0 then
    return
  end
  local metas = redis.call('HMGET', meta, unpack(ids))
  local first = take_seq(info, #ids, base)
  local args = {}
  for i = 1, #ids do
    local _, _, score = parse(metas[i])
    args[2 * i - 1] = score
    args[2 * i] = ready_member(first + i - 1, ids[i])
  end
  redis.call('ZADD', ready, unpack(args))
end

--- promote: int make_ready
-- Due delayed jobs and expired leases become ready (at most max of each per call).
local function promote(ready, delayed, leased, meta, info, now, base, max)
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', int(now), 'LIMIT', 0, max)
  if #due > 0 then
    redis.call('ZREM', delayed, unpack(due))
    make_ready(ready, meta, info, due, base)
  end
  local expired = redis.call('ZRANGEBYSCORE', leased, '-inf', int(now), 'LIMIT', 0, max)
  if #expired > 0 then
    redis.call('ZREM', leased, unpack(expired))
    make_ready(ready, meta, info, expired, base)
  end
end

--- held: parse
-- The job's meta if receipt holds its lease (deadline still ahead of the server clock).
local function held(leased, meta, id, receipt, now)
  local found = redis.call('HGET', meta, id)
  local _, current = parse(found)
  if current ~= receipt or receipt == '' then
    return false
  end
  local deadline = redis.call('ZSCORE', leased, id)
  if deadline and tonumber(deadline) > now then
    return found
  end
  return false
end

--- forget
-- Delete jobs' data and release the dedup keys they hold ('' for none); the caller
-- removes them from the zsets.
local function forget(body, meta, keys, ids, dedup)
  for i = 1, #ids do
    local key = dedup[i]
    if key ~= '' and redis.call('HGET', keys, key) == ids[i] then
      redis.call('HDEL', keys, key)
    end
  end
  redis.call('HDEL', body, unpack(ids))
  redis.call('HDEL', meta, unpack(ids))
end
