--[[
  unindex: removes workflows from the global index of running workflows once each was seen settled, unless a
  replay re-indexed it meanwhile (compare-and-delete on the run generation). Touches the index key only: the
  per-workflow scripts never write it, so each of them stays in one cluster slot (DESIGN inv 8). The removals of
  one tick come as one call (sweeper.ts, at most 1,000 pairs), read with one ZMSCORE and removed with one ZREM.

  Input:
    KEYS[1]  ${prefix}:active   zset: workflow id -> run generation (0 at create, +1 per replay)
    ARGV     pairs: workflow id, the run generation that was seen settled

  Output: the number of ids removed (the others were absent, or indexed for a later run).
  Events: none.
]]
local ids = {}
for i = 1, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return 0 end
local scores = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local drop = {}
for j = 1, #ids do
  local score = scores[j]
  if score and tonumber(score) <= tonumber(ARGV[2 * j]) then drop[#drop + 1] = ids[j] end
end
if #drop > 0 then redis.call('ZREM', KEYS[1], unpack(drop)) end
return #drop
