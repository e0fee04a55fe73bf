--[[
  claim: a worker takes a queued (or retrying, once due) node for the message's attempt
  (src/runtime/step/attempt.ts claim). queued|retrying -> running (CLAIM), a fresh token, lease deadline =
  store time + leaseMs (RELIABILITY §1.3). Returns in the same round trip everything the worker needs.

  Input:
    KEYS[1..15]  the workflow's keys (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      node id
    ARGV[6]      attempt (the message's)
    ARGV[7]      task name (the message's)
    ARGV[8]      claim token (fresh, random)
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
local id, attempt, token = ARGV[5], tonumber(ARGV[6]), ARGV[8]
if not loadWf() then return { CODE.ORPHAN } end
local rec = getNode(id)
if not rec then return { CODE.ORPHAN } end
if rec.t ~= ARGV[7] then return { CODE.FORGED } end
local already = rec.s == 'running' and rec.tk == token and rec.a == attempt
if not already then
  if W.state ~= 'running' or rec.a ~= attempt or (rec.s ~= 'queued' and rec.s ~= 'retrying') then return { CODE.STALE } end
  if rec.nb and NOW < rec.nb then return { CODE.EARLY, num(rec.nb - NOW) } end
  rec.tk = token
  move(id, rec, 'CLAIM')
  rec.sw = nil; rec.bo = nil -- a message got through: republishing starts over the next time it is ready
  rec.lu = NOW + tonumber(ARGV[9])
  rec.n = rec.n + 1
  rec.sa = NOW
  finish()
end
-- `ni`: the node takes no parent input (encode.ts); records without the flag may have one.
local input = not rec.ni and rcall('HGET', K.input, id) or nil
return { CODE.CLAIMED, already and 1 or 0, rcall('HGET', K.spec, id), input and 1 or 0, input and build(input) or '',
  rec.a, rec.rt, rec.rd, rec.k, W.ebn }
