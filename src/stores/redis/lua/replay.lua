--[[
  replay: re-runs failed, blocked and canceled task nodes (or the given ones), what they need that was
  dropped (ignoreResult dependencies) and everything downstream (src/runtime/step/control.ts replay).
  Replayed nodes go back to pending (REPLAY; REPLAY_WAIT to waiting for a node that replaced itself) with
  attempt + 1 and their counters reset; the workflow goes back to running (REPLAY), its run generation + 1,
  and every key loses its retention (PERSIST). Succeeded results outside the set are kept.

  Safe to run twice: the request id of the replay that applied is kept in `wf` (`rq`, with its replayed ids in
  `rqn`), and the same call again (ioredis re-sends a command cut by a reconnect; a timed-out call may have run)
  answers OK with the same run and ids instead of finding the workflow running and refusing; its ready messages
  are then those of the replayed nodes still queued or retrying, to publish again (duplicates are harmless).

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      request id: unique per replay call ('' for none)
    ARGV[6]      '1': the node ids follow; '0': replay failed, blocked and canceled task nodes
    ARGV[7..]    node ids

  Output:
    { CODE.OK, run, settled state or '', K, K replayed node ids (creation order), ready messages (6 slots each) }
      (also for the same request again: the run and ids it replayed, the messages of those still queued)
    { CODE.REFUSED, state }          running or succeeded workflows are not replayed
    { CODE.UNKNOWN_NODES, ids... }   given ids the workflow lacks
    { CODE.MISSING }                 no such workflow

  Events: 'settled' on ARGV[4] when nothing was left to run and the workflow settled again at once (with
  the result text when it succeeded and the text is at most 16 KiB; advance.lua: finish).
]]
if not loadWf() then return { CODE.MISSING } end
local request = ARGV[5]
if request ~= '' then
  local done = rcall('HMGET', K.wf, 'rq', 'rqn')
  if done[1] == request then
    -- This very replay applied already: its answer again, with the messages of its nodes still waiting.
    local ids = cjson.decode(done[2] or '[]')
    local reply = { CODE.OK, W.run, W.state ~= 'running' and W.state or '', #ids }
    for _, id in ipairs(ids) do reply[#reply + 1] = id end
    for _, id in ipairs(ids) do
      local rec = getNode(id)
      if rec and (rec.s == 'queued' or rec.s == 'retrying') then
        readyMessage(id, rec, num(math.max(0, (rec.nb or NOW) - NOW)))
      end
    end
    for _, v in ipairs(W.ready) do reply[#reply + 1] = v end
    return reply
  end
end
if W.state == 'running' or W.state == 'succeeded' then return { CODE.REFUSED, W.state } end
-- A cancel left half done ends here first: replay goes over every node anyway.
if rcall('HEXISTS', K.wf, 'cz') == 1 then cancelNodes(-1) end
-- How the replay learns the nodes' states, one of two ways; either decodes only the records of the nodes it
-- re-opens (and of those whose state it cannot tell otherwise).
-- A failed workflow without canceled task nodes holds succeeded, failed and blocked ones only. Its failed nodes
-- are the ones in `err` (advance.lua failHard), its blocked nodes lie downstream of failed ones (failHard blocks
-- nothing else), and a dependency of a re-opened node runs again exactly when its result is gone (failed,
-- blocked, or dropped at settle: ignoreResult). So such a replay reads no other record: whether a dependency has
-- a result says all it needs. Re-running five failed headers of a 100,000-node chord reads five records and the
-- body's dependency list. Which failed workflows have no canceled task node: one never replayed (run 0: never
-- canceled either, as a cancel settles it canceled and only a replay reopens it), and one whose last replay
-- recorded so (`rv` 1: replayed by this library; `cx` 1: canceled task nodes were left, below). Any other replay
-- reads every record's state from its stored text (lib.lua allNodeTexts).
local marks = rcall('HMGET', K.wf, 'rv', 'cx')
local onlyFailed = W.state == 'failed' and (W.run == 0 or (marks[1] == '1' and marks[2] ~= '1'))
local TEXTS = onlyFailed and {} or allNodeTexts()
local function nodeOf(id)
  local rec = NODES[id]
  if rec then return rec end
  if onlyFailed then return getNode(id) end
  local text = TEXTS[id]
  if not text then return nil end
  rec = decodeRecord(text)
  remember(id, rec)
  return rec
end
-- States read from texts, each once (a chord body's 100,000 dependencies are looked at twice). A node not
-- decoded in a first failure's replay succeeded (above).
local READ = {}
local function stateOf(id)
  local rec = NODES[id]
  if rec then return rec.s end
  if onlyFailed then return 'succeeded' end
  local state = READ[id]
  if state then return state end
  local text = TEXTS[id]
  if not text then return nil end
  state = stateIn(text) or nodeOf(id).s
  READ[id] = state
  return state
end
-- Whether a node succeeded and kept its result (one that dropped it, ignoreResult, runs again for its dependents).
local function keptResult(id)
  local rec = NODES[id]
  if not rec then
    if onlyFailed then return rcall('HEXISTS', K.res, id) == 1 end
    local text = TEXTS[id]
    if not text or stateOf(id) ~= 'succeeded' then return false end
    if not mayHide(text) then return true end
    rec = nodeOf(id)
  end
  return rec.s == 'succeeded' and not (rec.h and rcall('HEXISTS', K.res, id) == 0)
end
local order = rcall('LRANGE', K.order, 0, -1)
local chosen = {}
if ARGV[6] == '1' then
  local unknown = { CODE.UNKNOWN_NODES }
  for i = 7, #ARGV do
    if nodeOf(ARGV[i]) then chosen[#chosen + 1] = ARGV[i] else unknown[#unknown + 1] = ARGV[i] end
  end
  if #unknown > 1 then return unknown end
elseif onlyFailed then
  for _, id in ipairs(rcall('HKEYS', K.err)) do
    local rec = nodeOf(id)
    if rec and rec.s == 'failed' and rec.k == 'task' then chosen[#chosen + 1] = id end
  end
else
  for _, id in ipairs(order) do
    local state = stateOf(id)
    if (state == 'failed' or state == 'blocked' or state == 'canceled') and nodeOf(id).k == 'task' then chosen[#chosen + 1] = id end
  end
end

-- The graph's adjacency, read once (a replay may touch every node).
local function hashMap(key)
  local flat, map = rcall('HGETALL', key), {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end
local NEXT, DEPS, REPL, repls = hashMap(K.next), hashMap(K.deps), hashMap(K.repl), {}
for id, text in pairs(REPL) do repls[id] = cjson.decode(text) end
-- A node's list from one of those maps, decoded once (a chord body's dependencies are read twice).
local function listsOf(map)
  local lists = {}
  return function(id)
    local list = lists[id]
    if not list then
      list = map[id] and cjson.decode(map[id]) or {}
      lists[id] = list
    end
    return list
  end
end
local nextOf, depsOf = listsOf(NEXT), listsOf(DEPS)

-- The replay set: the chosen nodes, ignoreResult dependencies whose result was dropped, everything downstream.
local set, work = {}, chosen
while #work > 0 do
  local id = table.remove(work)
  if not set[id] then
    set[id] = true
    local rec = nodeOf(id)
    if rec and rec.d then work[#work + 1] = rec.d else for _, d in ipairs(nextOf(id)) do work[#work + 1] = d end end
    -- What it waits for runs again unless it succeeded and kept its result (a replaced node waits for its fragment).
    for _, dep in ipairs(repls[id] and repls[id].d or depsOf(id)) do
      if stateOf(dep) and not keptResult(dep) then work[#work + 1] = dep end
    end
  end
end

local nodes, rearmed = {}, {}
for _, id in ipairs(order) do if set[id] and nodeOf(id).k == 'task' then nodes[#nodes + 1] = id end end
for _, id in ipairs(nodes) do
  local rec = NODES[id]
  move(id, rec, repls[id] and 'REPLAY_WAIT' or 'REPLAY')
  rec.a = rec.a + 1; rec.rt = 0; rec.rd = 0
  rec.tk = nil; rec.lu = nil; rec.nb = nil; rec.h = nil; rec.sa = nil; rec.fa = nil; rec.x = nil
  -- An errback that fired may fire again, once, in this run (the first node that covers it re-arms it).
  for _, index in ipairs(rec.e) do
    if not rearmed[index] then
      rearmed[index] = true
      local state = rcall('HMGET', K.eb, index .. ':f', index .. ':r')
      if state[1] == '1' then put('HSET', K.eb, index .. ':f', '0', index .. ':r', tonumber(state[2] or '0') + 1) end
    end
  end
end
for i = 1, #nodes, CHUNK do
  local last = math.min(i + CHUNK - 1, #nodes)
  rcall('HDEL', K.err, unpack(nodes, i, last)); rcall('HDEL', K.res, unpack(nodes, i, last)); rcall('SREM', K.hidden, unpack(nodes, i, last))
end
moveWorkflow('REPLAY')
W.run = W.run + 1
rcall('HDEL', K.wf, 'settledAt', 'result')
-- Whether canceled task nodes are left (above): only a replay of chosen nodes of a canceled workflow leaves any; a
-- default replay re-runs them all, and a workflow that had none gets none.
local leftCanceled = false
if not onlyFailed and ARGV[6] == '1' then
  for _, id in ipairs(order) do
    if not set[id] and stateOf(id) == 'canceled' and nodeOf(id).k == 'task' then
      leftCanceled = true
      break
    end
  end
end
put('HSET', K.wf, 'rv', '1', 'cx', leftCanceled and '1' or '0')
-- The request that applied, so the same call again answers as this one (above).
if request ~= '' then put('HSET', K.wf, 'rq', request, 'rqn', #nodes > 0 and cjson.encode(nodes) or '[]') end
for _, id in ipairs(nodes) do
  local rec = NODES[id]
  local waitsFor = repls[id] and repls[id].d or depsOf(id)
  local remaining = 0
  for _, d in ipairs(waitsFor) do
    if stateOf(d) ~= 'succeeded' then remaining = remaining + 1 end
  end
  rec.r = remaining
end
for _, id in ipairs(nodes) do
  local rec = NODES[id]
  if rec.r == 0 and (rec.s == 'pending' or rec.s == 'waiting') then
    if rec.s == 'pending' then markReady(id, rec)
    else succeed(id, rec, 'RESOLVE', build(repls[id].r)) end
  end
end
for _, key in ipairs(allKeys()) do rcall('PERSIST', key) end
-- Replaced nodes whose fragments all succeeded resolve at once; if nothing else was replayed, it settles again.
settleIfDone()
finish()
local reply = { CODE.OK, W.run, W.settled or '', #nodes }
for _, id in ipairs(nodes) do reply[#reply + 1] = id end
for _, v in ipairs(W.ready) do reply[#reply + 1] = v end
return reply
