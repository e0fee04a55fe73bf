--[[
  complete: the attempt succeeded (src/runtime/step/attempt.ts complete). running -> succeeded (SUCCEED); the
  result is stored and each dependent's counter decremented in this same step (DESIGN inv 3): those that
  reach zero become queued (DEPS_MET) and are returned to publish; replaced nodes waiting for this one
  resolve (RESOLVE). Cost: O(dependents). Settles the workflow when nothing is left open.

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      node id
    ARGV[6]      claim token
    ARGV[7]      result JSON text
    ARGV[8]      '1': ignoreResult (kept for dependents, dropped at settle)
    ARGV[9]      continuation token, or '' for none: claim for the completing worker the first node this makes
                 ready that is due now and on one of ARGV[11]'s queues (store.ts ContinueRequest)
    ARGV[10]     the continuation's leaseMs
    ARGV[11]     the worker's queues, ' q1 q2 ' (each between spaces), or '*' for any

  Output:
    { CODE.OK, settled state or '', run, next, ready messages (6 slots each: id, task, attempt, queue, priority,
      delay) }; `next` is 0, or the continuation: { id, task, attempt, queue, priority or '', spec, has input,
      input, attempt, retries, redeliveries, kind, errback count } (the last 8 as claim.lua returns them), a node
      now running under ARGV[9] and left out of the ready messages
    { CODE.ALREADY, '', run, next }   this outcome was applied under this token before (re-sent command); `next`
                                  is the dependent claimed then, if it still runs under ARGV[9], else 0
    { CODE.STALE, '', run, 0 }     the claim is not held (lease lapsed and redelivered, canceled, replayed)
    { CODE.ORPHAN, '', 0, 0 }      no such workflow or node

  Events: 'settled' on ARGV[4] when this completion settled the workflow, with the result text when it
  succeeded and the text is at most 16 KiB (advance.lua: finish).
]]
local reply = completeOne(ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11])
if reply[1] == CODE.OK then finish() end
return reply
