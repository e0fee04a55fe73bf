--[[
  release: a stopping worker hands back a node it claimed and will not finish (src/runtime/step/attempt.ts
  release): what sweep.lua does once the node's lease lapses, done now (advance.lua handBack), so the node runs
  elsewhere without waiting out the lease: running -> queued (REDELIVER: same attempt, redeliveries + 1, token
  dropped) or, past maxRedeliveries, -> failed with WorkerLostError (LOSE, spread as a failure). A compact
  workflow is inflated first (library.ts INFLATE_FIRST).

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      node id
    ARGV[6]      claim token
    ARGV[7]      WorkerLostError as ErrorInfo JSON, with 987654321 where the redelivery count goes (as sweep.lua)

  Output:
    { CODE.OK, settled state or '', run, ready messages (the node's, or fired errbacks; 6 slots each) }
    { CODE.STALE, '', run }     the claim is not held (another token, not running, or released already: a
                                re-sent release finds the token gone)
    { CODE.ORPHAN, '', 0 }      no such workflow or node

  Events: 'settled' on ARGV[4] when a lost node settled the workflow (state failed: no result).
]]
-- handBack drops the token, so no queued node holds this one: the guard answers STALE to a re-sent release.
local rec, code = guard(ARGV[5], ARGV[6], 'queued')
if not rec then return { code, '', W and W.run or 0 } end
handBack(ARGV[5], rec, ARGV[7])
settleIfDone()
finish()
return commitReply(CODE.OK)
