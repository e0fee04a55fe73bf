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

  Output:
    { CODE.OK, settled state or '', run, ready messages (6 slots each: id, task, attempt, queue, priority, delay) }
    { CODE.ALREADY, '', run }   this outcome was applied under this token before (re-sent command)
    { CODE.STALE, '', run }     the claim is not held (lease lapsed and redelivered, canceled, replayed)
    { CODE.ORPHAN, '', 0 }      no such workflow or node

  Events: 'settled' on ARGV[4] when this completion settled the workflow, with the result text when it
  succeeded and the text is at most 16 KiB (advance.lua: finish).
]]
local reply = completeOne(ARGV[5], ARGV[6], ARGV[7], ARGV[8])
if reply[1] == CODE.OK then finish() end
return reply
