--[[
  create: stores a whole workflow graph and marks the nodes without dependencies ready, in one step
  (src/runtime/step/create.ts createRecord; DESIGN inv 4). Idempotent on the workflow id.

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      '1': the id is fresh (minted by this store, 96 random bits, never created before): no leftover
                 keys of an expired workflow of the same id can exist, so their DEL is skipped
    ARGV[6]      result recipe tokens (JSON array)
    ARGV[7]      N, the number of nodes
    ARGV[8]      M, the number of errbacks
    then N x 7   node id, NodeSpec JSON, initial node record (JSON text starting {"s":"pending",),
                 deps JSON ('' none), dependents JSON ('' none), input recipe tokens ('' none),
                 countdownMs of a root ('' for a node with dependencies)
    then M x 4   errback route (cjson: t, imm, qu, p, c, m), args JSON, options JSON, dispatch JSON

  A workflow of one root node whose result is that node's, without errbacks, is stored in the compact layout
  (compact.lua): its `wf` hash alone.

  Output:
    { CODE.OK, settled state or '' }   stored; the roots (nodes without dependencies) are queued, in declaration order. Their
                      messages are known to the caller (runtime/step/create.ts rootMessages): the reply does not repeat them.
    { CODE.EXISTS }   the workflow exists already: nothing written

  Events: 'settled' on ARGV[4] when the canvas has no node (an empty group settles at once with [], carried
  as the event's result; advance.lua: finish).
]]
if rcall('EXISTS', K.wf) == 1 then return { CODE.EXISTS } end
-- Leftovers of an expired workflow of the same id (keys expire one by one) must not leak into this one. A
-- fresh id has none (the DEL of 14 missing keys costs ~15 µs: about a fifth of a one-node create).
if ARGV[5] ~= '1' then rcall('DEL', K.order, K.spec, K.node, K.deps, K.next, K.input, K.repl, K.res, K.err, K.leases, K.ready, K.eb, K.hidden, K.hist) end
-- Roots move pending -> queued (markReady); the move is checked against the machine once, then written in bulk.
if NODE_T.pending.DEPS_MET ~= 'queued' then error('braid: illegal transition|roots|pending|DEPS_MET') end
local n, m = tonumber(ARGV[7]), tonumber(ARGV[8])
-- One root node whose result is the workflow's, no errbacks: the compact layout, in the `wf` hash alone
-- (compact.lua).
if n == 1 and m == 0 and ARGV[12] == '' and ARGV[14] == '' and ARGV[15] ~= '' and ARGV[6] == compactRecipe(ARGV[9]) then
  createCompact(ARGV[9], ARGV[10], ARGV[11], NOW + tonumber(ARGV[15]))
  return { CODE.OK, '' }
end

local PENDING = '{"s":"pending",'
local order, specs, recs, deps, nexts, inputs, scores, hist = {}, {}, {}, {}, {}, {}, {}, {}
local base = 8
-- A root's record starts with its queued time and due time; made once per countdown (roots mostly share one),
-- and the due time goes to ZADD as the same text (a number argument is formatted by Redis for each).
local nowText = num(NOW)
local queuedHead, dueText = {}, {}
for i = 1, n do
  local at = base + (i - 1) * 7
  local id, rec = ARGV[at + 1], ARGV[at + 3]
  order[#order + 1] = id
  specs[#specs + 1] = id; specs[#specs + 1] = ARGV[at + 2]
  if ARGV[at + 4] ~= '' then deps[#deps + 1] = id; deps[#deps + 1] = ARGV[at + 4] end
  if ARGV[at + 5] ~= '' then nexts[#nexts + 1] = id; nexts[#nexts + 1] = ARGV[at + 5] end
  if ARGV[at + 6] ~= '' then inputs[#inputs + 1] = id; inputs[#inputs + 1] = ARGV[at + 6] end
  if ARGV[at + 7] ~= '' then
    -- A root (no dependencies): markReady, written as text: queued at NOW, due after its countdown.
    local countdown = ARGV[at + 7]
    local head = queuedHead[countdown]
    if not head then
      dueText[countdown] = num(NOW + tonumber(countdown))
      head = '{"s":"queued","q":' .. nowText .. ',"nb":' .. dueText[countdown] .. ','
      queuedHead[countdown] = head
    end
    rec = head .. string.sub(rec, #PENDING + 1)
    scores[#scores + 1] = dueText[countdown]; scores[#scores + 1] = id
    if HIST then hist[#hist + 1] = historyRecord(id, 'pending', 'queued', 1) end
  end
  recs[#recs + 1] = id; recs[#recs + 1] = rec
end
pushMany(K.order, order)
hsetMany(K.spec, specs)
hsetMany(K.node, recs)
hsetMany(K.deps, deps)
hsetMany(K.next, nexts)
hsetMany(K.input, inputs)
for i = 1, #scores, 2 * CHUNK do put('ZADD', K.ready, unpack(scores, i, math.min(i + 2 * CHUNK - 1, #scores))) end
if #hist > 0 then pushMany(K.hist, hist) end

local ebs = {}
base = base + n * 7
for i = 0, m - 1 do
  local at = base + i * 4
  ebs[#ebs + 1] = i; ebs[#ebs + 1] = ARGV[at + 1]
  ebs[#ebs + 1] = i .. ':a'; ebs[#ebs + 1] = ARGV[at + 2]
  ebs[#ebs + 1] = i .. ':o'; ebs[#ebs + 1] = ARGV[at + 3]
  ebs[#ebs + 1] = i .. ':d'; ebs[#ebs + 1] = ARGV[at + 4]
end
hsetMany(K.eb, ebs)
-- The workflow hash last, with the key mask of everything written above (lib.lua).
W = { state = 'running', open = n, failed = 0, ebn = m, run = 0, km = withWrites(ALWAYS_KEYS), ready = {} }
put('HSET', K.wf, 'state', 'running', 'createdAt', nowText, 'recipe', ARGV[6], 'open', n, 'failed', 0, 'ebn', m, 'run', 0,
  'km', W.km)
stored()
-- A canvas with no node (an empty group) settles at once (createRecord's settleIfDone).
settleIfDone()
finish()
return { CODE.OK, W.settled or '' }
