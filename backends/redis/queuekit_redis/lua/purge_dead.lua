-- purge_dead: delete a queue's dead letters.
-- KEYS: dead dbody dinfo
-- Returns: how many were deleted.
-- needs:
local n = redis.call('ZCARD', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return n
