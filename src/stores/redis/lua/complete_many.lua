--[[
  complete_many: the completions made in the same tick of nodes of one or more workflows whose keys share a
  cluster slot (redis-store.ts batches them by slot). Each workflow's completions are applied one after the
  other exactly as complete.lua applies one, on the workflow loaded once, with one write-back per workflow.
  An entry repeated in the batch, or a batch sent twice, answers ALREADY as a repeated completion does. Cost:
  O(dependents) per entry.

  Input (lib.lua: batch):
    KEYS[g]      the `wf` key of the g-th workflow of the batch (all of one slot)
    ARGV[1..3]   history flag, retentionMs, events channel
    ARGV[4..]    per workflow: workflow id, n, then n/7 entries of 7 slots: node id, claim token, result JSON
                 text, '1' ignoreResult, continuation token, its leaseMs, the worker's queues (complete.lua
                 ARGV[5..11])

  Output:
    one reply per entry, in order, each as complete.lua returns it; the settled state is in the reply of the
    entry that settled its workflow only, and each reply carries the ready messages of its own entry;
    { CODE.ERROR, message } for each entry of a workflow whose completions raised an error

  Events: one 'settled' on the channel per workflow an entry settled (advance.lua: finish), as complete.lua.
]]
return batch(KEYS, ARGV, 7, function(argv, from, to)
  local replies, changed = {}, false
  for i = from, to, 7 do
    local reply = completeOne(argv[i], argv[i + 1], argv[i + 2], argv[i + 3], argv[i + 4], argv[i + 5], argv[i + 6])
    replies[#replies + 1] = reply
    changed = changed or reply[1] == CODE.OK
  end
  if changed then finish() end
  return replies
end, quickComplete)
