--[[
  renew: extends the lease of a claim still held (src/runtime/step/attempt.ts renew). Not a transition: the
  node stays running; only its deadline (and its score in the leases index) moves.

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      node id
    ARGV[6]      claim token
    ARGV[7]      leaseMs

  Output:
    { CODE.OK }         lease extended to store time + leaseMs (running it twice is harmless)
    { CODE.LOST }       no such node, another token holds it, or it is no longer running
    { CODE.CANCELED }   the workflow was canceled while the node ran (the worker aborts ctx.signal)

  Events: none.
]]
local id = ARGV[5]
local rec = getNode(id)
if not rec or rec.tk ~= ARGV[6] then return { CODE.LOST } end
if rec.s == 'canceled' then return { CODE.CANCELED } end
if rec.s ~= 'running' then return { CODE.LOST } end
-- Canceled in steps that have not reached this node yet (advance.lua cancelNodes).
if rcall('HGET', K.wf, 'state') == 'canceled' then return { CODE.CANCELED } end
rec.lu = NOW + tonumber(ARGV[7])
dirty(id)
finish()
return { CODE.OK }
