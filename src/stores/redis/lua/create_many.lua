--[[
  create_many: the creates made in the same tick of several workflows whose keys share a cluster slot
  (slot-steered ids, mint.ts; redis-store.ts batches them by slot), each applied exactly as create.lua applies
  one, with its own per-call state. Two creates of one id in a batch are two groups: the second answers EXISTS.
  Idempotent per workflow, so a batch sent twice answers EXISTS for every entry.

  Input (lib.lua: batch):
    KEYS[g]      the `wf` key of the g-th workflow of the batch (all of one slot)
    ARGV[1..3]   history flag, retentionMs, events channel
    ARGV[4..]    per workflow: workflow id, n, then its n create arguments (create.lua ARGV[5..])

  Output:
    one reply per workflow, in order, each as create.lua returns it; { CODE.ERROR, message } for a create that
    raised an error

  Events: as create.lua, per workflow.
]]
return batch(KEYS, ARGV, nil, function(argv, from, to)
  local args = { WF_ID, argv[1], argv[2], argv[3] }
  for i = from, to do args[#args + 1] = argv[i] end
  return { RUN.create(args) }
end, quickCreate)
