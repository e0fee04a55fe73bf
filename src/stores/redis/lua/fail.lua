--[[
  fail: the attempt failed for good (src/runtime/step/attempt.ts fail). running -> failed (FAIL); errbacks
  covering the node fire once each (new errback nodes, queued), pending dependents become blocked (BLOCK),
  replaced nodes waiting downstream fail (FAIL). Settles the workflow when nothing is left open.

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      node id
    ARGV[6]      claim token
    ARGV[7]      error: ErrorInfo JSON text { name, message, stack? }

  Output:
    { CODE.OK, settled state or '', run, ready messages (errbacks; 6 slots each) }
    { CODE.ALREADY, '', run } | { CODE.STALE, '', run } | { CODE.ORPHAN, '', 0 }   as complete.lua

  Events: 'settled' on ARGV[4] when this failure settled the workflow (state failed: no result).
]]
local rec, code = guard(ARGV[5], ARGV[6], 'failed')
if not rec then return { code, '', W and W.run or 0 } end
failHard(ARGV[5], rec, 'FAIL', ARGV[7])
settleIfDone()
finish()
return commitReply(CODE.OK)
