--[[
  unindex: removes workflows from the global index of running workflows once each was seen settled, unless a
  replay re-indexed it meanwhile (compare-and-delete on the run generation). Touches the index key only: the
  per-workflow scripts never write it, so each of them stays in one cluster slot (DESIGN inv 8). The removals of
  one tick come as one call (sweeper.ts).

  Input:
    KEYS[1]  ${prefix}:active   zset: workflow id -> run generation (0 at create, +1 per replay)
    ARGV     pairs: workflow id, the run generation that was seen settled

  Output: the number removed (the others were absent, or indexed for a later run).
  Events: none.
]]
local removed = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) <= tonumber(ARGV[i + 1]) then
    redis.call('ZREM', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
return removed
