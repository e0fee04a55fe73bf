--[[
  unindex: removes a workflow from the global index of running workflows once it was seen settled, unless a
  replay re-indexed it meanwhile (compare-and-delete on the run generation). Touches the index key only: the
  per-workflow scripts never write it, so each of them stays in one cluster slot (DESIGN inv 8).

  Input:
    KEYS[1]  ${prefix}:active   zset: workflow id -> run generation (0 at create, +1 per replay)
    ARGV[1]  workflow id
    ARGV[2]  the run generation that was seen settled

  Output: 1 removed, 0 kept (absent, or indexed for a later run).
  Events: none.
]]
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
