--[[
  sweep: one workflow's sweep (src/runtime/step/sweep.ts sweepRecord; DESIGN inv 4, 6). Running nodes whose
  lease lapsed go back to their queue (REDELIVER: same attempt, redeliveries + 1, token dropped) or, past
  maxRedeliveries, fail with WorkerLostError (LOSE, spread as a failure); queued and retrying nodes left
  unclaimed for republishAfterMs since they became due are listed to publish again, each later republish after
  twice the wait, up to 16 times (step/sweep.ts republishWait; `sw` counts republishes since the last claim,
  `bo` is the extra wait, added to the node's score in the ready index so ZRANGEBYSCORE finds only due nodes).
  Both lists come from the leases and ready indexes (O(log n + found)), at most `budget` of each. A workflow in
  the compact layout (compact.lua) is checked in place and inflated only when its node must move.

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      republishAfterMs
    ARGV[6]      budget: most lapsed leases and most unclaimed nodes looked at (0: none; sweep_many passes what
                 its budget has left)
    ARGV[7]      WorkerLostError as ErrorInfo JSON, with 987654321 where the redelivery count goes
    ARGV[8]      redeliveredRepublishAfterMs: a node this sweep makes ready (sent back from a lapsed lease, or an
                 errback a lost node fired) is republished, if still unclaimed, after this long instead of
                 republishAfterMs, then after twice, four times ... that until it reaches republishAfterMs (record
                 field `qk`; its `bo` negative meanwhile); '' or not less than ARGV[5]: no difference. The caller
                 publishes the message this sweep lists for it after the sweep returns: a caller that dies in
                 between leaves the node queued with no message for this long, not republishAfterMs

  Output:
    { CODE.OK, redelivered, lost, settled state or '', run, { the lost nodes' messages (6 slots each) },
      ready messages (6 slots each) }   a lost node (WorkerLostError) has no ready message; its message is for
                                       the caller's dead-letter copy (RELIABILITY §1.4)
    { CODE.NOT_RUNNING, state, run }   settled: nothing to sweep (the caller drops it from the global index); a
                                       cancel left half done takes a step of CANCEL_STEP_NODES first, and
                                       answers OK (kept in the index) until its last
    { CODE.MISSING }                   no such workflow (expired, or its create has not run yet)

  Events: 'settled' on ARGV[4] when a lost node settled the workflow (state failed: no result).
]]
-- Most workflows a sweep visits need nothing: a few fields answer for a settled one and for an idle compact one
-- (compact.lua), without loading the workflow (a compact `wf` hash is a listpack with the node's spec in it,
-- where every field read is a scan).
local peek = sweepPeek(K.wf)
if not peek[1] then return { CODE.MISSING } end
local run = tonumber(peek[2]) or 0 -- a compact workflow stores no run (compact.lua COMPACT_RUN)
if peek[1] ~= 'running' then
  if not peek[8] then return { CODE.NOT_RUNNING, peek[1], run } end
  -- A cancel left half done (its caller went away): its next step; indexed until the last.
  loadWf()
  local left = cancelNodes(CANCEL_STEP_NODES)
  finish()
  if left then return { CODE.OK, 0, 0, '', run, {} } end
  return { CODE.NOT_RUNNING, W.state, run }
end
local after, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
local sooner = tonumber(ARGV[8]) or after
-- A compact workflow is looked at in place, and inflated only when its node needs the sweep.
if peek[3] then
  if budget <= 0 or compactIdle(after, peek[4], peek[5], peek[6], peek[7]) then return { CODE.OK, 0, 0, '', run, {} } end
  inflate()
end
loadWf()
local lapsed = rcall('ZRANGEBYSCORE', K.leases, '-inf', NOW, 'LIMIT', 0, budget)
local unclaimed = rcall('ZRANGEBYSCORE', K.ready, '-inf', NOW - after, 'LIMIT', 0, budget)
local redelivered, lost, lostMessages = 0, 0, {}
for _, id in ipairs(lapsed) do
  local rec = getNode(id)
  if rec and rec.s == 'running' and rec.lu and rec.lu <= NOW then
    if handBack(id, rec, ARGV[7]) == 'lost' then
      lost = lost + 1
      messageSlots(lostMessages, id, rec, '0')
    else
      redelivered = redelivered + 1
    end
  end
end
-- Every node made ready above (sent back, or an errback a lost node fired) has its message published by the
-- caller after this sweep, and only then: in case the caller dies first, the unclaimed scan finds it (and
-- republishes it) `sooner` ms from now, then after 2, 4 ... x `sooner` until that reaches republishAfterMs (the
-- republish step below; `qk` keeps `sooner` until a claim or then).
if sooner < after then
  local r = W.ready
  for i = 1, #r, 6 do
    local rec = NODES[r[i]]
    if rec then rec.qk = sooner; rec.bo = sooner - after; dirty(r[i]) end
  end
end
for _, id in ipairs(unclaimed) do
  local rec = getNode(id)
  if rec and (rec.s == 'queued' or rec.s == 'retrying') and math.max(rec.q or 0, rec.nb or 0) + (rec.bo or 0) + after <= NOW then
    rec.q = NOW
    rec.sw = (rec.sw or 0) + 1
    -- The wait before the next republish: republishAfterMs x 2^sw; for a node a sweep made ready (`qk`: the
    -- sooner wait it was given), qk x 2^sw until that reaches republishAfterMs, so a republish that a dying
    -- sweeper lost too is not followed by a wait of twice republishAfterMs.
    local wait = after * 2 ^ math.min(rec.sw, REPUBLISH_BACKOFF_LIMIT)
    if rec.qk then
      wait = rec.qk * 2 ^ rec.sw
      if wait >= after then rec.qk = nil; rec.sw = 0; wait = after end
    end
    rec.bo = wait - after
    dirty(id)
    readyMessage(id, rec, '0')
  end
end
settleIfDone()
finish()
local reply = { CODE.OK, redelivered, lost, W.settled or '', W.run, lostMessages }
for _, v in ipairs(W.ready) do reply[#reply + 1] = v end
return reply
