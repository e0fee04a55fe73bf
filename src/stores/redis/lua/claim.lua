--[[
  claim: a worker takes a queued (or retrying, once due) node for the message's attempt
  (src/runtime/step/attempt.ts claim). queued|retrying -> running (CLAIM), a fresh token, lease deadline =
  store time + leaseMs (RELIABILITY §1.3). Returns in the same round trip everything the worker needs.

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      node id
    ARGV[6]      attempt (the message's)
    ARGV[7]      task name (the message's)
    ARGV[8]      claim token (unique per claim: a random per-worker prefix and a counter, deliver.ts)
    ARGV[9]      leaseMs

  Output:
    { CODE.CLAIMED, already (0|1), NodeSpec JSON, has input (0|1), input value JSON ('' none), attempt,
      retries, redeliveries, kind, errback count }
      already = 1: this very claim (same token and attempt) was applied before: a re-sent command
    { CODE.EARLY, delayMs }   not due yet (countdown, retry delay)
    { CODE.STALE }            attempt, state or workflow state do not match (duplicate, stale, canceled)
    { CODE.ORPHAN }           no such workflow or node
    { CODE.FORGED }           the message's task differs from the stored node's

  Events: none.
]]
local reply, changed = claimOne(ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
if changed then finish() end
return reply
