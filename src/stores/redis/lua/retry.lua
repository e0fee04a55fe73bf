--[[
  retry: the attempt failed and runs again after a delay (src/runtime/step/attempt.ts retry). running ->
  retrying (RETRY); attempt + 1, retries + 1, due at store time + delayMs. The retry's message is returned
  to publish with that delay; claim answers EARLY before it is due. Never settles.

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      node id
    ARGV[6]      claim token
    ARGV[7]      error: ErrorInfo JSON text
    ARGV[8]      delayMs (echoed as the message's delay)

  Output:
    { CODE.OK, '', run, the retry's message (6 slots) }
    { CODE.ALREADY, '', run } | { CODE.STALE, '', run } | { CODE.ORPHAN, '', 0 }   as complete.lua

  Events: none.
]]
local id = ARGV[5]
local rec, code = guard(id, ARGV[6], 'retrying')
if not rec then return { code, '', W and W.run or 0 } end
move(id, rec, 'RETRY')
put('HSET', K.err, id, ARGV[7])
rec.x = true
rec.a = rec.a + 1
rec.rt = rec.rt + 1
rec.q = NOW
rec.nb = NOW + tonumber(ARGV[8])
readyMessage(id, rec, ARGV[8])
finish()
return commitReply(CODE.OK)
