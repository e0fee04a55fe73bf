--[[
  braid Lua library, part 3: how completions spread (src/runtime/step/advance.ts, function by function), and
  the write-back every script ends with. Module level of the function library, after lib.lua; not a script by
  itself.

  Events: settleIfDone() marks the workflow settled; finish() then PUBLISHes
  {"type":"settled","workflowId":...,"state":...} on ARGV[4], with ,"result":<the stored result JSON text, raw>
  last when the workflow succeeded and that text is at most SETTLED_RESULT_MAX_BYTES (prelude; 16 KiB), and
  PEXPIREs by ARGV[3] every key the workflow's key mask holds (lib.lua; inv 9).
]]

-- Marks a pending node ready: queued, due after its countdown, and listed for publishing.
local function markReady(id, rec)
  move(id, rec, 'DEPS_MET')
  rec.q = NOW
  rec.nb = NOW + rec.c
  readyMessage(id, rec, numNow(rec.c))
end

local function setResult(id, rec, text)
  put('HSET', K.res, id, text)
  RESULTS[id] = text
  if rec.h then put('SADD', K.hidden, id) end
end

-- Records a success (SUCCEED from running, RESOLVE from waiting) and spreads it to the dependents.
local NONE = {} -- an empty list, never written
local function succeed(id, rec, event, result)
  local work -- the resolutions still to apply, made when a waiting node resolves
  while id do
    move(id, rec, event)
    setResult(id, rec, result)
    if rec.x then rcall('HDEL', K.err, id); rec.x = nil end -- a success clears the error of earlier attempts
    rec.fa = NOW
    -- Only a pending or waiting dependent moves, and both are open: with nothing else open (the last node of a
    -- workflow, every node of a one-node one) there is none, so the dependents list is not read.
    for _, depId in ipairs(W.open > 0 and dependentsOf(id, rec) or NONE) do
      local dep = getNode(depId)
      -- A waiting node waits for its fragment only, not for its own (replayed) dependencies.
      if dep.s == 'pending' or (dep.s == 'waiting' and rec.rp == depId) then
        dep.r = dep.r - 1
        dirty(depId)
        if dep.r <= 0 then
          if dep.s == 'pending' then markReady(depId, dep)
          else
            local repl = cjson.decode(rcall('HGET', K.repl, depId))
            work = work or {}
            work[#work + 1] = { depId, dep, 'RESOLVE', build(repl.r) }
          end
        end
      end
    end
    id = nil
    if work and #work > 0 then
      local item = table.remove(work)
      id, rec, event, result = item[1], item[2], item[3], item[4]
    end
  end
end

local function errbackSpec(index, ebId, failedId, failedRec, errorText)
  local v = rcall('HMGET', K.eb, index, index .. ':a', index .. ':o', index .. ':d')
  local route = cjson.decode(v[1])
  local args = v[2]
  if not route.imm then
    local info = '{"workflowId":' .. cjson.encode(WF_ID) .. ',"nodeId":' .. cjson.encode(failedId) ..
      ',"task":' .. cjson.encode(failedRec.t) .. ',"error":' .. errorText .. '}'
    args = '[' .. info .. (args == '[]' and '' or ',' .. string.sub(args, 2, -2)) .. ']'
  end
  local spec = '{"id":' .. cjson.encode(ebId) .. ',"task":' .. cjson.encode(route.t) .. ',"args":' .. args ..
    ',"options":' .. v[3] .. ',"deps":[],"input":null,"errbacks":[],"dispatch":' .. v[4] .. '}'
  local rec = { s = 'pending', r = 0, a = 1, rt = 0, rd = 0, n = 0, k = 'errback', t = route.t, qu = route.qu,
    p = route.p, c = route.c, m = route.m, e = {}, ni = true }
  return rec, spec
end

-- Starts each errback covering the node that has not fired in this run of the workflow.
local function fireErrbacks(id, rec, errorText)
  if rec.k ~= 'task' then return end
  for _, index in ipairs(rec.e) do
    if index < W.ebn then
      local state = rcall('HMGET', K.eb, index .. ':f', index .. ':r')
      if state[1] ~= '1' then
        put('HSET', K.eb, index .. ':f', '1')
        local runs = tonumber(state[2] or '0')
        local ebId = runs == 0 and ('e' .. index) or ('e' .. index .. '.' .. runs)
        local ebRec, spec = errbackSpec(index, ebId, id, rec, errorText)
        addNode(ebId, ebRec, spec)
        markReady(ebId, ebRec)
      end
    end
  end
end

-- Records a failure for good (FAIL or LOSE) and spreads it: errbacks fire, pending dependents are blocked,
-- replaced nodes waiting downstream fail with the same error.
local function failHard(firstId, firstRec, event, errorText)
  move(firstId, firstRec, event)
  put('HSET', K.err, firstId, errorText)
  firstRec.x = true
  firstRec.fa = NOW
  fireErrbacks(firstId, firstRec, errorText)
  local work = dependentsOf(firstId, firstRec)
  while #work > 0 do
    local depId = table.remove(work)
    local dep = getNode(depId)
    local spread = true
    if dep.s == 'pending' then
      move(depId, dep, 'BLOCK')
      dep.fa = NOW
    elseif dep.s == 'waiting' then
      move(depId, dep, 'FAIL')
      put('HSET', K.err, depId, errorText)
      dep.x = true
      dep.fa = NOW
      fireErrbacks(depId, dep, errorText)
    else spread = false end
    if spread then for _, x in ipairs(dependentsOf(depId, dep)) do work[#work + 1] = x end end
  end
end

-- A running node whose worker is gone (lease lapsed: sweep.lua) or let it go (release.lua): back to its queue for
-- the same attempt, a counted redelivery, its message listed in W.ready; past maxRedeliveries it fails with
-- WorkerLostError (`lostTemplate`: the ErrorInfo JSON with 987654321 where the count goes). The claim's token
-- is dropped either way, so the old worker's late commit is stale, never `already` (step/sweep.ts handBack); a
-- requeued node keeps it as `xt`, so a claim re-sent under it is stale too.
local function handBack(id, rec, lostTemplate)
  if rec.rd >= rec.m then
    failHard(id, rec, 'LOSE', (string.gsub(lostTemplate, '987654321', num(rec.rd))))
    rec.tk = nil
    return 'lost'
  end
  move(id, rec, 'REDELIVER')
  rec.rd = rec.rd + 1
  rec.xt = rec.tk -- a claim re-sent under it is stale (claimOne)
  rec.tk = nil; rec.lu = nil
  rec.q = NOW; rec.nb = NOW
  readyMessage(id, rec, '0')
  return 'redelivered'
end

-- Settles the workflow when nothing is left open: failed when a task node failed, else succeeded.
local function settleIfDone()
  if W.state ~= 'running' or W.open > 0 then return end
  if W.failed > 0 then moveWorkflow('SETTLE_FAILED')
  else
    moveWorkflow('SETTLE_SUCCEEDED')
    W.result = build(rcall('HGET', K.wf, 'recipe'))
  end
  W.settledAt = num(NOW) -- written with the other workflow fields by flush()
  if mayExist('hidden') then
    local hidden = rcall('SMEMBERS', K.hidden)
    for i = 1, #hidden, CHUNK do rcall('HDEL', K.res, unpack(hidden, i, math.min(i + CHUNK - 1, #hidden))) end
    rcall('DEL', K.hidden)
  end
  W.settled = W.state
end

--------------------------------------------------------------------------------------------------- write-back
-- Writes every changed node record, moves nodes between the sweep indexes, appends the history and the
-- workflow counters. Every script that changes state ends with it.
local function flush()
  local flat, remL, remR, addL, addR
  for id in pairs(DIRTY) do
    DIRTY[id] = nil
    local rec = NODES[id]
    if not flat then flat = {} end
    flat[#flat + 1] = id; flat[#flat + 1] = encodeRecord(rec)
    local set0, score0 = ORIG_SET[id], ORIG_SCORE[id]
    local set1, score1 = indexOf(rec)
    -- A node leaves the index it was in only (ORIG): no ZREM from an index that does not hold it.
    if set0 and set0 ~= set1 then
      if set0 == 'L' then remL = remL or {}; remL[#remL + 1] = id
      else remR = remR or {}; remR[#remR + 1] = id end
    end
    if set1 and (set1 ~= set0 or score1 ~= score0) then
      local list
      if set1 == 'L' then addL = addL or {}; list = addL else addR = addR or {}; list = addR end
      list[#list + 1] = numNow(score1); list[#list + 1] = id
    end
    ORIG_SET[id], ORIG_SCORE[id] = set1, score1
  end
  if flat then hsetMany(K.node, flat) end
  if remL then for i = 1, #remL, CHUNK do rcall('ZREM', K.leases, unpack(remL, i, math.min(i + CHUNK - 1, #remL))) end end
  if addL then for i = 1, #addL, 2 * CHUNK do put('ZADD', K.leases, unpack(addL, i, math.min(i + 2 * CHUNK - 1, #addL))) end end
  if remR then for i = 1, #remR, CHUNK do rcall('ZREM', K.ready, unpack(remR, i, math.min(i + CHUNK - 1, #remR))) end end
  if addR then for i = 1, #addR, 2 * CHUNK do put('ZADD', K.ready, unpack(addR, i, math.min(i + 2 * CHUNK - 1, #addR))) end end
  if #HISTBUF > 0 then pushMany(K.hist, HISTBUF); HISTBUF = {} end
  if W then
    W.km = withWrites(W.km)
    local o, meta, n = W.orig, nil, 0
    if W.state ~= o.state then meta = meta or {}; meta[n + 1] = 'state'; meta[n + 2] = W.state; n = n + 2 end
    if W.open ~= o.open then meta = meta or {}; meta[n + 1] = 'open'; meta[n + 2] = W.open; n = n + 2 end
    if W.failed ~= o.failed then meta = meta or {}; meta[n + 1] = 'failed'; meta[n + 2] = W.failed; n = n + 2 end
    if W.ebn ~= o.ebn then meta = meta or {}; meta[n + 1] = 'ebn'; meta[n + 2] = W.ebn; n = n + 2 end
    if W.run ~= o.run then meta = meta or {}; meta[n + 1] = 'run'; meta[n + 2] = W.run; n = n + 2 end
    if W.km ~= o.km then meta = meta or {}; meta[n + 1] = 'km'; meta[n + 2] = W.km; n = n + 2 end
    if W.result ~= o.result then meta = meta or {}; meta[n + 1] = 'result'; meta[n + 2] = W.result; n = n + 2 end
    if W.settledAt ~= o.settledAt then meta = meta or {}; meta[n + 1] = 'settledAt'; meta[n + 2] = W.settledAt; n = n + 2 end
    if meta then put('HSET', K.wf, unpack(meta, 1, n)) end
    stored()
  elseif withWrites(ALWAYS_KEYS) ~= ALWAYS_KEYS then
    -- Only renew flushes without W: it writes node and leases, which create counted already.
    error('braid: a write outside the key mask without the workflow loaded')
  end
end

-- The workflow's 15 keys (this call's).
local function allKeys()
  local keys = {}
  for i, name in ipairs(KEY_ORDER) do keys[i] = K[name] end
  return keys
end

-- Keys a settled workflow cannot hold, so its settle sets no retention on them: `leases` and `ready` index open
-- nodes only, and nothing is open once it settled (flush() has just removed the last ones; Redis deletes an
-- emptied zset). A replay that reopens the workflow writes them again and PERSISTs every key (replay.lua).
-- Saves 2 PEXPIREs, ~5 µs each from Lua, per settle.
local EMPTY_WHEN_SETTLED = { leases = true, ready = true }

-- Flushes; when the workflow settled in this script, sets the retention on every key it may hold (its key mask,
-- lib.lua) and publishes.
local function finish()
  flush()
  if W and W.settled then
    for _, name in ipairs(KEY_ORDER) do
      if bit.band(W.km, BIT[name]) ~= 0 and not EMPTY_WHEN_SETTLED[name] then rcall('PEXPIRE', K[name], RETENTION) end
    end
    -- A small result rides along (raw JSON text, last), so a waiter need not read it back (events.ts).
    rcall('PUBLISH', CHANNEL, settledEvent(W.settled, W.result))
  end
end

-- A cancel in steps (cancel.lua; sweep.lua and replay.lua finish one left half done): the workflow is canceled
-- at once, its open nodes `count` at a time in creation order (-1: all that are left), from `cz`, a field of
-- `wf` present while nodes are left. Each node moves as cancel.lua once moved them all in one call (CANCEL,
-- finished now); a canceled workflow refuses claims (claimOne), fences off the commits and renewals of nodes
-- still running (guard, renew.lua), and reads show its open nodes as canceled (reads.ts), so what is left is
-- bookkeeping that keeps one call from holding Redis for seconds on a 100,000-node workflow. True when nodes
-- are left after this step.
local function cancelNodes(count)
  local from = tonumber(rcall('HGET', K.wf, 'cz')) or 0
  local ids = rcall('LRANGE', K.order, from, count < 0 and -1 or from + count - 1)
  loadNodes(ids)
  -- Every step dates its nodes' end at the cancel (the workflow's settledAt; the first step's NOW, before its
  -- flush writes it), as a snapshot between steps shows them (reads.ts).
  local canceledAt = tonumber(rcall('HGET', K.wf, 'settledAt')) or NOW
  for _, id in ipairs(ids) do
    local rec = NODES[id]
    if rec and not FINAL[rec.s] then
      move(id, rec, 'CANCEL')
      rec.fa = canceledAt
    end
  end
  local left = count >= 0 and #ids == count and rcall('LLEN', K.order) > from + count
  if left then put('HSET', K.wf, 'cz', num(from + count)) else rcall('HDEL', K.wf, 'cz') end
  return left
end

-- The reply of a commit: code, settled state ('' when not settled), run, then the ready messages.
local function commitReply(code)
  local reply = { code, W.settled or '', W.run }
  for _, v in ipairs(W.ready) do reply[#reply + 1] = v end
  return reply
end

-- The guard of a commit (attempt.ts guard): the node when it is running under this token, else the code to
-- answer: ORPHAN (no such workflow or node), STALE (another claim, or another outcome), ALREADY (this very
-- outcome was applied under this token: a re-sent command).
-- A batch (claim_many, complete_many) loads the workflow once: W is kept from the entry before.
local function guard(id, token, target)
  if not (W or loadWf()) then return nil, CODE.ORPHAN end
  local rec = getNode(id)
  if not rec then return nil, CODE.ORPHAN end
  if rec.tk ~= token then return nil, CODE.STALE end
  -- A node still running in a workflow that is not (a cancel in steps that has not reached it yet) is fenced off
  -- as the cancel will leave it: canceled, its commit stale.
  if rec.s == 'running' then
    if W.state ~= 'running' then return nil, CODE.STALE end
    return rec, nil
  end
  -- A replace under this token is applied once the node has a replacement, even if it has since resolved.
  local applied = rec.s == target or (target == 'waiting' and rcall('HEXISTS', K.repl, id) == 1)
  return nil, applied and CODE.ALREADY or CODE.STALE
end

--------------------------------------------------------------------------------------------------- claim, complete
-- queued -> running under `token` (a claim, or a completion's continuation; step/attempt.ts takeClaim).
local function takeClaim(id, rec, token, leaseMs)
  rec.tk = token
  move(id, rec, 'CLAIM')
  rec.sw = nil; rec.bo = nil; rec.qk = nil -- a message got through: republishing starts over the next time it is ready
  rec.lu = NOW + tonumber(leaseMs)
  rec.n = rec.n + 1
  rec.sa = NOW
end

-- What a worker needs to run a claimed node: spec, has input, input, attempt, retries, redeliveries, kind,
-- errback count (appended to `out`).
local function claimedFields(out, id, rec)
  -- `ni`: the node takes no parent input (encode.ts); records without the flag may have one.
  local input = not rec.ni and rcall('HGET', K.input, id) or nil
  local n = #out
  out[n + 1] = rcall('HGET', K.spec, id); out[n + 2] = input and 1 or 0; out[n + 3] = input and build(input) or ''
  out[n + 4] = rec.a; out[n + 5] = rec.rt; out[n + 6] = rec.rd; out[n + 7] = rec.k; out[n + 8] = W.ebn
  return out
end

-- One claim (claim.lua; claim_many applies each entry with it): the reply, and whether it changed anything.
local function claimOne(id, attempt, task, token, leaseMs)
  attempt = tonumber(attempt)
  if not (W or loadWf(true)) then return { CODE.ORPHAN }, false end
  if W.cv then return claimCompact(K.wf, W.cv[1], W.cv, 6, id, attempt, task, token, leaseMs), false end
  local rec = getNode(id)
  if not rec then return { CODE.ORPHAN }, false end
  if rec.t ~= task then return { CODE.FORGED }, false end
  local already = rec.s == 'running' and rec.tk == token and rec.a == attempt
  if not already then
    -- Re-sent under the token the node was handed back from (its reply lost, the lease lapsed meanwhile).
    if rec.xt == token then return { CODE.STALE }, false end
    if W.state ~= 'running' or rec.a ~= attempt or (rec.s ~= 'queued' and rec.s ~= 'retrying') then return { CODE.STALE }, false end
    if rec.nb and NOW < rec.nb then return { CODE.EARLY, num(rec.nb - NOW) }, false end
    takeClaim(id, rec, token, leaseMs)
  end
  -- The short reply (codes.ts claimFrom) when the claimed fields are all at their usual values: a task node
  -- without parent input, retries or redeliveries, in a workflow without errbacks (every chord header).
  if rec.ni and rec.rt == 0 and rec.rd == 0 and rec.k ~= 'errback' and W.ebn == 0 then
    return { CODE.CLAIMED, already and 1 or 0, rcall('HGET', K.spec, id) }, not already
  end
  return claimedFields({ CODE.CLAIMED, already and 1 or 0 }, id, rec), not already
end

-- A continuation (step/attempt.ts complete): the node's message (id, task, attempt, queue, priority or '')
-- followed by its claimedFields.
local function continued(id, rec)
  return claimedFields({ id, rec.t, rec.a, rec.qu, rec.p and num(rec.p) or '' }, id, rec)
end

-- Claims for the completing worker the first ready message from W.ready[from + 1] on that is due now and on
-- one of `queues` (' q1 q2 ', or '*': any), and takes it out of W.ready: its continuation, or 0.
local function continueWith(from, token, leaseMs, queues)
  local r = W.ready
  for i = from + 1, #r, 6 do
    if r[i + 5] == '0' and (queues == '*' or string.find(queues, ' ' .. r[i + 3] .. ' ', 1, true)) then
      local id = r[i]
      local rec = NODES[id]
      takeClaim(id, rec, token, leaseMs)
      for _ = 1, 6 do table.remove(r, i) end
      return continued(id, rec)
    end
  end
  return 0
end

-- A re-sent completion that asked for a continuation: the dependent its first run claimed, while it still runs
-- under that token, else 0.
local function continuedBefore(id, token)
  if token == '' then return 0 end
  for _, depId in ipairs(dependentsOf(id, getNode(id))) do
    local dep = getNode(depId)
    if dep and dep.s == 'running' and dep.tk == token then return continued(depId, dep) end
  end
  return 0
end

-- One completion (complete.lua; complete_many applies each entry with it), without the write-back: the reply
-- carries the continuation (or 0), the ready messages and the settled state this entry caused only.
local function completeOne(id, token, result, ignoreResult, nextToken, nextLeaseMs, nextQueues)
  if (W or loadWf()) and W.cv then return completeCompact(K.wf, W.cv[1], W.cv, 6, id, token, result, ignoreResult) end
  local rec, code = guard(id, token, 'succeeded')
  if not rec then return { code, '', W and W.run or 0, code == CODE.ALREADY and continuedBefore(id, nextToken) or 0 } end
  if ignoreResult == '1' then rec.h = true end
  local from, wasSettled = #W.ready, W.settled
  succeed(id, rec, 'SUCCEED', result)
  settleIfDone()
  local next = nextToken ~= '' and continueWith(from, nextToken, nextLeaseMs, nextQueues) or 0
  local reply = { CODE.OK, (not wasSettled and W.settled) or '', W.run, next }
  for i = from + 1, #W.ready do reply[#reply + 1] = W.ready[i] end
  return reply
end
