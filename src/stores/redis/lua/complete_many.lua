--[[
  complete_many: the completions of several nodes of one workflow made in the same tick (redis-store.ts groups
  them), applied one after the other exactly as complete.lua applies one, on the workflow loaded once, with
  one write-back at the end. An entry repeated in the batch, or a batch sent twice, answers ALREADY as a
  repeated completion does. Cost: O(dependents) per entry.

  Input:
    KEYS[1..15]  the workflow's keys (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5..]    the entries, 4 slots each: node id, claim token, result JSON text, '1' ignoreResult
                 (complete.lua ARGV[5..8])

  Output:
    one reply per entry, in order, each as complete.lua returns it; the settled state is in the reply of the
    entry that settled the workflow only, and each reply carries the ready messages of its own entry

  Events: one 'settled' on ARGV[4] when an entry settled the workflow (advance.lua: finish), as complete.lua.
]]
local replies, changed = {}, false
for i = 5, #ARGV, 4 do
  local reply = completeOne(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  replies[#replies + 1] = reply
  changed = changed or reply[1] == CODE.OK
end
if changed then finish() end
return replies
