--[[
  claim_many: the claims of several messages made in the same tick, of one or more workflows whose keys share
  a cluster slot (redis-store.ts batches them by slot). Each workflow's claims are applied one after the other
  exactly as claim.lua applies one, on the workflow loaded once, with one write-back per workflow. An entry
  repeated in the batch, or a batch sent twice, answers `already` as a repeated claim does.

  Input (lib.lua: batch):
    KEYS[g]      the `wf` key of the g-th workflow of the batch (all of one slot)
    ARGV[1..3]   history flag, retentionMs, events channel
    ARGV[4..]    per workflow: workflow id, n, then n/5 entries of 5 slots: node id, attempt, task name, claim
                 token, leaseMs (claim.lua ARGV[5..9])

  Output:
    one reply per entry, in order, each as claim.lua returns it; { CODE.ERROR, message } for each entry of a
    workflow whose claims raised an error

  Events: none.
]]
return batch(KEYS, ARGV, 5, function(argv, from, to)
  local replies, changed = {}, false
  for i = from, to, 5 do
    local reply, did = claimOne(argv[i], argv[i + 1], argv[i + 2], argv[i + 3], argv[i + 4])
    replies[#replies + 1] = reply
    changed = changed or did
  end
  if changed then finish() end
  return replies
end, quickClaim)
