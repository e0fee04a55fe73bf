--[[
  claim_many: the claims of several messages of one workflow made in the same tick (redis-store.ts groups
  them), applied one after the other exactly as claim.lua applies one, on the workflow loaded once, with one
  write-back at the end. An entry repeated in the batch, or a batch sent twice, answers `already` as a
  repeated claim does.

  Input:
    KEYS[1..15]  the workflow's keys (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5..]    the entries, 5 slots each: node id, attempt, task name, claim token, leaseMs (claim.lua ARGV[5..9])

  Output:
    one reply per entry, in order, each as claim.lua returns it

  Events: none.
]]
local replies, changed = {}, false
for i = 5, #ARGV, 5 do
  local reply, did = claimOne(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
  replies[#replies + 1] = reply
  changed = changed or did
end
if changed then finish() end
return replies
