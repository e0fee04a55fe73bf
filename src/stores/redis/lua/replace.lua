--[[
  replace: the task replaced itself with a compiled fragment (ctx.replace; src/runtime/step/attempt.ts
  replace). The fragment's errbacks and nodes are added (pending, replacing = this node), the node goes
  running -> waiting (REPLACE) and waits for the fragment's `done` nodes; fragment nodes without
  dependencies become queued. An empty fragment resolves the node at once (RESOLVE).

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      node id
    ARGV[6]      claim token
    ARGV[7]      the fragment's result recipe tokens (JSON array)
    ARGV[8]      the fragment's done node ids (JSON array)
    ARGV[9]      N, fragment nodes      ARGV[10]  M, fragment errbacks      ARGV[11]  X, outside dependencies
    then N x 6   node id, NodeSpec JSON, initial record (cjson), deps JSON ('' none), dependents inside the
                 fragment JSON ('' none), input recipe tokens ('' none)
    then M x 4   errback route (cjson), args JSON, options JSON, dispatch JSON (numbered from the current count)
    then X x 2   an existing node id the fragment depends on, JSON array of fragment nodes to add as its dependents

  Output:
    { CODE.OK, settled state or '', run, ready messages (6 slots each) }
    { CODE.ALREADY, '', run } | { CODE.STALE, '', run } | { CODE.ORPHAN, '', 0 }   as complete.lua

  Events: 'settled' on ARGV[4] when an empty fragment resolved the node and settled the workflow (with the
  result text when it succeeded and the text is at most 16 KiB; advance.lua: finish).
]]
local id = ARGV[5]
local rec, code = guard(id, ARGV[6], 'waiting')
if not rec then return { code, '', W and W.run or 0 } end
local n, m, x = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local base = 11 + n * 6

local ebs = {}
for i = 0, m - 1 do
  local at, index = base + i * 4, W.ebn + i
  ebs[#ebs + 1] = index; ebs[#ebs + 1] = ARGV[at + 1]
  ebs[#ebs + 1] = index .. ':a'; ebs[#ebs + 1] = ARGV[at + 2]
  ebs[#ebs + 1] = index .. ':o'; ebs[#ebs + 1] = ARGV[at + 3]
  ebs[#ebs + 1] = index .. ':d'; ebs[#ebs + 1] = ARGV[at + 4]
end
hsetMany(K.eb, ebs)
W.ebn = W.ebn + m

local added, deps, nexts, inputs = {}, {}, {}, {}
for i = 1, n do
  local at = 11 + (i - 1) * 6
  local nid = ARGV[at + 1]
  addNode(nid, decodeRecord(ARGV[at + 3]), ARGV[at + 2])
  added[#added + 1] = nid
  if ARGV[at + 4] ~= '' then deps[#deps + 1] = nid; deps[#deps + 1] = ARGV[at + 4] end
  if ARGV[at + 5] ~= '' then nexts[#nexts + 1] = nid; nexts[#nexts + 1] = ARGV[at + 5] end
  if ARGV[at + 6] ~= '' then inputs[#inputs + 1] = nid; inputs[#inputs + 1] = ARGV[at + 6] end
end
hsetMany(K.deps, deps)
hsetMany(K.next, nexts)
hsetMany(K.input, inputs)
base = base + m * 4
for i = 1, x do
  local depId, more = ARGV[base + (i - 1) * 2 + 1], cjson.decode(ARGV[base + (i - 1) * 2 + 2])
  local depRec = getNode(depId)
  if depRec then addDependents(depId, depRec, more) end
end

move(id, rec, 'REPLACE')
put('HSET', K.repl, id, '{"r":' .. ARGV[7] .. ',"d":' .. ARGV[8] .. '}')
local done = cjson.decode(ARGV[8])
rec.r = #done
for _, d in ipairs(done) do addDependents(d, getNode(d), { id }) end
for _, nid in ipairs(added) do
  local nrec = NODES[nid]
  if nrec.r == 0 then markReady(nid, nrec) end
end
if rec.r == 0 then succeed(id, rec, 'RESOLVE', build(ARGV[7])) end
settleIfDone()
finish()
return commitReply(CODE.OK)
