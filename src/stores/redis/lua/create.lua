--[[
  create: stores a whole workflow graph and marks the nodes without dependencies ready, in one step
  (src/runtime/step/create.ts createRecord; DESIGN inv 4). Idempotent on the workflow id.

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      '1': the id is fresh (minted by this store, 96 random bits, never created before): no leftover
                 keys of an expired workflow of the same id can exist, so their DEL is skipped; '0' otherwise.
                 A staged create (a large graph, stage.lua) appends ' <staging id> <nodes staged>': the staged
                 rows are moved into place first (all of them, or the create raises an error and writes
                 nothing), then this call's rows are added
    ARGV[6]      result recipe tokens (JSON array)
    ARGV[7]      N, the number of nodes in this call (the workflow's, less those staged)
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
-- ARGV[5]: '1' or '0' (fresh), or, for a staged create, '<fresh> <staging id> <nodes staged>'.
local fresh, sid, staged = ARGV[5], nil, 0
if #ARGV[5] > 1 then
  local f, id, count = string.match(ARGV[5], '^([01]) (%S+) (%d+)$')
  if not f then error('braid: bad create argument 5: ' .. ARGV[5]) end
  fresh, sid, staged = f, id, tonumber(count)
end
if rcall('EXISTS', K.wf) == 1 then
  if sid then dropStage(sid) end
  return { CODE.EXISTS }
end
-- Leftovers of an expired workflow of the same id (keys expire one by one) must not leak into this one. A
-- fresh id has none (the DEL of 14 missing keys costs ~15 µs: about a fifth of a one-node create).
if fresh ~= '1' then rcall('DEL', K.order, K.spec, K.node, K.deps, K.next, K.input, K.repl, K.res, K.err, K.leases, K.ready, K.eb, K.hidden, K.hist) end
-- Roots move pending -> queued (markReady); the move is checked against the machine once, then written in bulk.
if NODE_T.pending.DEPS_MET ~= 'queued' then error('braid: illegal transition|roots|pending|DEPS_MET') end
local n, m = tonumber(ARGV[7]), tonumber(ARGV[8])
-- One root node whose result is the workflow's, no errbacks: the compact layout, in the `wf` hash alone
-- (compact.lua).
if compactCreate(ARGV, 5) then
  createCompact(K.wf, ARGV[9], ARGV[10], ARGV[11], NOW + tonumber(ARGV[15]))
  return { CODE.OK, '' }
end

-- The nodes staged ahead (stage.lua) first, then this call's own.
if sid then takeStage(sid, staged) end
writeNodeRows(ARGV, 8, n, K)

local ebs = {}
local base = 8 + n * 7
for i = 0, m - 1 do
  local at = base + i * 4
  ebs[#ebs + 1] = i; ebs[#ebs + 1] = ARGV[at + 1]
  ebs[#ebs + 1] = i .. ':a'; ebs[#ebs + 1] = ARGV[at + 2]
  ebs[#ebs + 1] = i .. ':o'; ebs[#ebs + 1] = ARGV[at + 3]
  ebs[#ebs + 1] = i .. ':d'; ebs[#ebs + 1] = ARGV[at + 4]
end
hsetMany(K.eb, ebs)
-- The workflow hash last, with the key mask of everything written above (lib.lua).
W = { state = 'running', open = staged + n, failed = 0, ebn = m, run = 0, km = withWrites(ALWAYS_KEYS), ready = {} }
put('HSET', K.wf, 'state', 'running', 'createdAt', num(NOW), 'recipe', ARGV[6], 'open', W.open, 'failed', 0, 'ebn', m, 'run', 0,
  'km', W.km)
stored()
-- A canvas with no node (an empty group) settles at once (createRecord's settleIfDone).
settleIfDone()
finish()
return { CODE.OK, W.settled or '' }
