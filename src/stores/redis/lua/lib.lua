--[[
  braid Lua library: the module part of the store's function library (scripts.ts builds the library as the
  generated prelude + this file + advance.lua + one function per script file). The prelude defines NODE_T and
  WF_T (the xstate machines' transition tables, machines.ts), FINAL (final node states) and CODE (reply codes,
  codes.ts). Everything at module level is built once, at FUNCTION LOAD; the per-call state below (K, WF_ID,
  NOW, W, NODES, ...) is reset by begin() at the entry of every registered function (the quick ways of
  compact.lua set only enter()'s scalars). It mirrors src/runtime/step/record.ts and advance.ts function by
  function; the names match.

  KEYS: every per-workflow script declares ONE key, the workflow's `wf` key `{prefix:workflowId}:wf`; the
  other 14 are derived from its hash tag here (K, below), as BullMQ derives its keys from one prefix. They hash
  to the same cluster slot as the declared key, which is all Redis Cluster requires of a script (DESIGN inv 8):
    wf      hash  state, createdAt, settledAt, result, recipe (tokens), open, failed, ebn, run, km (below)
    order   list  node ids in creation order
    spec    hash  node id -> NodeSpec JSON, written once (never decoded here: it holds user data)
    node    hash  node id -> the node's state record (JSON as created, MessagePack once a script wrote it back:
                  decodeRecord; fields in docs/redis-data-model.md)
    deps    hash  node id -> JSON array of the node's dependencies (replay only)
    next    hash  node id -> JSON array of its dependents (fan-out of a completion)
    input   hash  node id -> recipe tokens of its parent input
    repl    hash  node id -> {r: recipe tokens, d: done ids} once it replaced itself
    res     hash  node id -> result JSON text
    err     hash  node id -> ErrorInfo JSON text
    leases  zset  running nodes, score = lease deadline (ms, store time)
    ready   zset  queued and retrying nodes, score = max(queuedAt, notBefore)
    eb      hash  errback i: `i` route, `i:a` args, `i:o` options, `i:d` dispatch, `i:f` fired, `i:r` runs
    hidden  set   nodes whose result is dropped at settle (ignoreResult)
    hist    list  applied transitions (history mode)
  A batch (create_many, claim_many, complete_many) declares the `wf` key of each of its workflows, all of one
  slot, and runs each workflow with its own per-call state (batch(), below).

  ARGV common to every per-workflow script:
    ARGV[1] workflowId   ARGV[2] '1' keeps history   ARGV[3] retentionMs   ARGV[4] events channel

  Key mask (wf field `km`): bit i-1 stands for the i-th key of the list above (BIT). It holds every key the workflow may have written since
  create (a superset: a key emptied since, by HDEL or DEL, keeps its bit), so a settle sets the retention on
  those keys only (DESIGN inv 9) and skips the rest, which never existed. Every command that can create a key
  goes through put(), which records it; flush() folds this call's writes into the mask. Create sets ALWAYS_KEYS.
  A workflow without `km` (created before it existed) counts as having all 15 keys.

  Recipe tokens: a flat JSON array where '[' and ']' open and close a list and any other string is a node id
  (node ids never are '[' or ']'); a value is built by string concatenation of stored result texts, so user
  JSON never passes through cjson (which would turn [] into {} and round floats to 14 digits).
]]
local CHUNK = 1000

--------------------------------------------------------------------------------------------------- per call
-- Set by begin(keys, args) at the entry of every per-workflow function; nothing survives from one call to the
-- next but K's names when the next call is of the same workflow (they derive from its `wf` key alone). `redis.call` is not reachable while the library loads, so it is taken here too. The per-call tables
-- live at module level and begin() empties them (a batch runs many workflows per call: clearing costs less
-- than allocating six tables and a metatable per workflow); one that grew large is replaced instead, so a
-- later call never walks its empty slots.
local rcall, BASE, WF_ID, HIST, RETENTION, CHANNEL, NOW
local W -- the workflow: state, open, failed, ebn, run, km, orig; ready (flat messages), settled
local NODES, ORIG_SET, ORIG_SCORE, DIRTY, HISTBUF, RESULTS = {}, {}, {}, {}, {}, {}
local NODE_COUNT = 0 -- records remembered since begin()
local WMASK = 0 -- the key mask bits of the keys this call wrote (put)

-- The key mask bit of each key (the order of the list above), the keys create always counts, and the mask of all 15.
local BIT = {
  wf = 1, order = 2, spec = 4, node = 8, deps = 16, next = 32, input = 64, repl = 128, res = 256, err = 512,
  leases = 1024, ready = 2048, eb = 4096, hidden = 8192, hist = 16384,
}
-- The 15 key names in mask order (retention, replay's PERSIST).
local KEY_ORDER = { 'wf', 'order', 'spec', 'node', 'deps', 'next', 'input', 'repl', 'res', 'err', 'leases', 'ready', 'eb', 'hidden', 'hist' }
local ALWAYS_KEYS = BIT.wf + BIT.order + BIT.spec + BIT.node + BIT.leases + BIT.ready
local ALL_KEYS_MASK = 2 ^ 15 - 1

-- The key names of this call's workflow, made on first use from its `wf` key: `{prefix:id}:` .. name; KEYBIT
-- maps each name made to its mask bit (put).
local KEYBIT = {}
local KEY_NAMES = { __index = function(t, name)
  local key = BASE .. name
  rawset(t, name, key)
  KEYBIT[key] = BIT[name]
  return key
end }
local K -- made by the first begin(): setmetatable is not reachable while the library loads

local function clear(t) for k in pairs(t) do t[k] = nil end end

-- The scalars of a call: `args` ARGV[1..4] (above), `now` the store time in ms when the caller read it already
-- (a batch reads TIME once). Enough for the quick ways of a batch (compact.lua), which touch the `wf` key alone.
local function enter(args, now)
  rcall = redis.call
  WF_ID, HIST, RETENTION, CHANNEL = args[1], args[2] == '1', tonumber(args[3]), args[4]
  if not now then
    local t = rcall('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  NOW = now
  W = nil
end

-- Every per-call state: enter() and the key names and per-call tables. `wfKey` is the declared
-- `{prefix:id}:wf` key.
local function begin(wfKey, args, now)
  enter(args, now)
  if not K then K = setmetatable({}, KEY_NAMES) end
  if rawget(K, 'wf') ~= wfKey then
    clear(K); clear(KEYBIT)
    BASE = string.sub(wfKey, 1, -3)
    K.wf = wfKey
    KEYBIT[wfKey] = BIT.wf
  end
  if NODE_COUNT > 64 then
    NODES, ORIG_SET, ORIG_SCORE, DIRTY, RESULTS = {}, {}, {}, {}, {}
  else
    clear(NODES); clear(ORIG_SET); clear(ORIG_SCORE); clear(DIRTY); clear(RESULTS)
  end
  NODE_COUNT = 0
  HISTBUF = {}
  WMASK = 0
end

-- The per-workflow scripts as functions of their ARGV, run after begin() (library.ts registers each as
-- `begin(KEYS[1], ARGV); return RUN.<script>(ARGV)`), so a batch can run them too (create_many).
local RUN = {}

local function runGroup(wfKey, common, now, apply, argv, from, to)
  begin(wfKey, common, now)
  return apply(argv, from, to)
end

--[[
  A batch over several workflows of one cluster slot (create_many, claim_many, complete_many):
    KEYS[g]     the `wf` key of the g-th workflow group (all of one slot)
    ARGV[1..3]  history flag, retentionMs, events channel (a single script's ARGV[2..4])
    ARGV[4..]   per group: workflow id, n, then the group's n arguments
  apply(argv, from, to) applies the group's arguments argv[from..to] under that workflow's per-call state
  (begin) and returns its entries' replies. A group whose run raises an error (a refused transition, WRONGTYPE)
  answers { CODE.ERROR, message } for each of its entries of `width` arguments (one entry when width is nil)
  and keeps what it wrote, as a single call that failed would; the other groups are unaffected. TIME is read
  once for the whole batch.
  quick(wfKey, common, now, argv, from, n), when given and not in history mode, is tried first: the same
  transition for the common case without the per-call state (compact.lua). It answers the group's replies, or
  nil when the general way must apply it (which reads the workflow for itself).
]]
local function batch(keys, argv, width, apply, quick)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local common, out, at = { '', argv[1], argv[2], argv[3] }, {}, 4
  if argv[1] == '1' then quick = nil end
  for g = 1, #keys do
    local n = tonumber(argv[at + 1])
    common[1] = argv[at]
    local ok, replies = true, nil
    if quick then ok, replies = pcall(quick, keys[g], common, now, argv, at + 2, n) end
    if ok and not replies then
      ok, replies = pcall(runGroup, keys[g], common, now, apply, argv, at + 2, at + 1 + n)
    end
    if ok then
      for i = 1, #replies do out[#out + 1] = replies[i] end
    else
      local message = type(replies) == 'table' and replies.err or tostring(replies)
      for _ = 1, width and n / width or 1 do out[#out + 1] = { CODE.ERROR, message } end
    end
    at = at + 2 + n
  end
  return out
end

-- Runs a command that may create `key`, and records that this call wrote it (the key mask, above).
local function put(cmd, key, ...)
  WMASK = bit.bor(WMASK, KEYBIT[key])
  return rcall(cmd, key, ...)
end

-- HSET on a workflow's own `wf` hash `key` (K.wf, or a batch's declared key): the one key every mask holds
-- (BIT.wf, create sets it), so the write needs no record, and it works without begin() (compact.lua's quick ways).
local function setWf(key, ...)
  return redis.call('HSET', key, ...)
end

-- `mask` with the keys this call wrote added.
local function withWrites(mask)
  return bit.bor(mask, WMASK)
end

-- True when the workflow may hold key `name` (its mask, or a write in this call).
local function mayExist(name)
  return bit.band(bit.bor(W.km, WMASK), BIT[name]) ~= 0
end

-- Numbers as text: integers exactly, others with full precision. An integer goes through '%d' (a C long; -0
-- prints as 0), not tostring: tostring is '%.14g', and glibc formats a double with multi-precision arithmetic
-- (0.38 µs for a millisecond timestamp against 0.17 µs; number formatting was a tenth of redis-server's CPU on
-- a 10,000-header chord, by perf).
local function num(x)
  if x == math.floor(x) and x < 2^53 and x > -2^53 then return string.format('%d', x) end
  return string.format('%.17g', x)
end

-- num(x) through a memo of the numbers formatted since NOW last changed: the hot paths write the same few per
-- batch (NOW, NOW + the workers' lease as a lease deadline, a start count or attempt of 1, a countdown of 0), and one format costs about 0.4 µs on
-- Redis 7.0 (a scratch EVAL loop), three per compact claim before. The memo starts afresh with each new NOW,
-- so it holds at most a batch's distinct numbers.
local NUM_MEMO, NUM_MEMO_NOW = {}, nil
local function numNow(x)
  if NUM_MEMO_NOW ~= NOW then NUM_MEMO, NUM_MEMO_NOW = {}, NOW end
  local text = NUM_MEMO[x]
  if not text then
    text = num(x)
    NUM_MEMO[x] = text
  end
  return text
end

local function hmgetMany(key, ids)
  local out = {}
  for i = 1, #ids, CHUNK do
    local part = rcall('HMGET', key, unpack(ids, i, math.min(i + CHUNK - 1, #ids)))
    for j = 1, #part do out[#out + 1] = part[j] end
  end
  return out
end

local function hsetMany(key, flat)
  for i = 1, #flat, 2 * CHUNK do put('HSET', key, unpack(flat, i, math.min(i + 2 * CHUNK - 1, #flat))) end
end

local function pushMany(key, items)
  for i = 1, #items, CHUNK do put('RPUSH', key, unpack(items, i, math.min(i + CHUNK - 1, #items))) end
end

-- Builds a JSON value from recipe tokens (text or decoded) over the stored results (missing reads as null).
local function build(tokens)
  if type(tokens) == 'string' then
    -- One node id alone (a one-node workflow's recipe, a chain's): its result, without decoding the tokens.
    local only = string.match(tokens, '^%["([^"\\%[%]]+)"%]$')
    if only then return RESULTS[only] or rcall('HGET', K.res, only) or 'null' end
    tokens = cjson.decode(tokens)
  end
  local ids, vals = {}, {}
  for _, t in ipairs(tokens) do if t ~= '[' and t ~= ']' then ids[#ids + 1] = t end end
  -- Results this call stored are known (a one-node workflow's result, a chain's last); else one read.
  for i = 1, #ids do
    vals[i] = RESULTS[ids[i]]
    if vals[i] == nil then vals = hmgetMany(K.res, ids); break end
  end
  local out, comma, vi = {}, false, 0
  for _, t in ipairs(tokens) do
    if t == ']' then
      out[#out + 1] = ']'; comma = true
    else
      if comma then out[#out + 1] = ',' end
      if t == '[' then out[#out + 1] = '['; comma = false
      else vi = vi + 1; out[#out + 1] = vals[vi] or 'null'; comma = true end
    end
  end
  return table.concat(out)
end

--------------------------------------------------------------------------------------------------- state
-- The workflow fields flush() writes back when they changed: state, open, failed, ebn, run, km, result,
-- settledAt (`result` and `settledAt` are not loaded: a script that settles sets them; replay deletes them).
-- Remembers W's fields as stored, so flush() writes only what changed.
local function stored()
  local o = W.orig
  if not o then o = {}; W.orig = o end
  o.state, o.open, o.failed, o.ebn, o.run, o.km, o.result, o.settledAt =
    W.state, W.open, W.failed, W.ebn, W.run, W.km, W.result, W.settledAt
end

-- Loads the workflow fields into W; for a workflow in the compact layout (compact.lua) W.cv keeps the fields as
-- read, its flat node among them (and, when `withSpec` (a claim), its spec text). The compact fields come in
-- the order of compact.lua's CLAIM_FIELDS from `km` on, so claimCompact and completeCompact read either.
local WF_FIELDS = { 'state', 'open', 'failed', 'ebn', 'run', 'km', '_id', '_s', '_tk', '_t', '_nb', '_n', '_spec' }
local WF_FIELDS_NO_SPEC = #WF_FIELDS - 1
local function loadWf(withSpec)
  local v = rcall('HMGET', K.wf, unpack(WF_FIELDS, 1, withSpec and #WF_FIELDS or WF_FIELDS_NO_SPEC))
  if not v[1] then return nil end
  W = { state = v[1], open = tonumber(v[2]), failed = tonumber(v[3]), ebn = tonumber(v[4]), run = tonumber(v[5]),
    km = tonumber(v[6]) or ALL_KEYS_MASK, ready = {} }
  if v[7] then
    -- The compact layout keeps no counters (compact.lua COMPACT_RUN); an earlier store's hold the same values.
    W.cv = v
    W.open = W.open or (v[1] == 'running' and 1 or 0)
    W.failed, W.ebn, W.run = W.failed or 0, W.ebn or 0, W.run or 0
  end
  stored()
  return W
end

-- Where a node sits in the sweep indexes: 'L' (leases) with its deadline, 'R' (ready) with its since time.
local function indexOf(rec)
  if rec.s == 'running' then return 'L', rec.lu end
  if rec.s == 'queued' or rec.s == 'retrying' then return 'R', math.max(rec.q or 0, rec.nb or 0) + (rec.bo or 0) end
  return nil, nil
end

local function remember(id, rec)
  NODES[id] = rec
  NODE_COUNT = NODE_COUNT + 1
  ORIG_SET[id], ORIG_SCORE[id] = indexOf(rec)
end

-- A node record as stored: the JSON text create (or replace) wrote, until the first script that changes the node
-- writes it back as MessagePack (encodeRecord). A JSON record starts with '{' (byte 123); MessagePack encodes a
-- map as 0x80-0x8f or 0xde, never 123, so the first byte tells them apart (snapshots read both: reads.ts).
-- cmsgpack instead of cjson: 2.6 against 4.6 µs per decode and encode of a header's record, and it writes
-- integers as integers instead of formatting doubles with printf.
-- Both forms leave out the fields at their default (RECORD_DEFAULTS in node-record.ts; withDefaults and
-- packWithoutDefaults are generated into the prelude): a chord header's record is about half the fields, and
-- its decode and encode (twice each per node) about half the work.
local function decodeRecord(text)
  if string.byte(text, 1) == 123 then return withDefaults(cjson.decode(text)) end
  return withDefaults(cmsgpack.unpack(text))
end

local function encodeRecord(rec)
  return packWithoutDefaults(rec)
end

local function getNode(id)
  local rec = NODES[id]
  if rec then return rec end
  local text = rcall('HGET', K.node, id)
  if not text then return nil end
  rec = decodeRecord(text)
  remember(id, rec)
  return rec
end

-- Loads the records of `ids` not loaded yet, in one HMGET per CHUNK (a cancel's step).
local function loadNodes(ids)
  local unread = {}
  for _, id in ipairs(ids) do if not NODES[id] then unread[#unread + 1] = id end end
  if #unread == 0 then return end
  local texts = hmgetMany(K.node, unread)
  for i, id in ipairs(unread) do if texts[i] then remember(id, decodeRecord(texts[i])) end end
end

-- Every node record's stored text by node id, in one HGETALL (replay): decoding them all cost about 10 µs a node,
-- a second of Redis for a 100,000-node workflow of which a replay may re-run five. Read from these texts with
-- stateIn and mayHide, and decode (remember) only the records the replay needs whole.
local function allNodeTexts()
  local flat, texts = rcall('HGETALL', K.node), {}
  for i = 1, #flat, 2 do texts[flat[i]] = flat[i + 1] end
  return texts
end

local NODE_STATES = { pending = true, queued = true, running = true, retrying = true, waiting = true, succeeded = true,
  failed = true, blocked = true, canceled = true }

-- The state a stored record holds, read from its text without decoding it; nil when it cannot tell (the caller
-- decodes then). JSON records (as create and replace write them: encode.ts initialRecord, writeNodeRows) start
-- with the state. In MessagePack the state is the string after the one-byte string "s" (0xa1 0x73) whose own
-- header is a fixstr (0xa0-0xbf). Those three bytes never lie wholly inside a string value, which is valid UTF-8
-- (0xa0-0xbf is a continuation byte, which never follows an ASCII byte): a match that starts inside one starts at
-- its end (the value "s", a task named "s", or a value ending in "¡s"), and what follows it is the next key,
-- never a state name. So the first match that names a state is the state.
local function stateIn(text)
  if string.byte(text, 1) == 123 then return string.match(text, '^{"s":"(%a+)"') end
  local from = 1
  while true do
    local at = string.find(text, '\161s', from, true)
    if not at then return nil end
    local n = (string.byte(text, at + 2) or 0) - 160
    if n >= 1 and n < 32 then
      local state = string.sub(text, at + 3, at + 2 + n)
      if NODE_STATES[state] then return state end
    end
    from = at + 1
  end
end

-- False when the record surely lacks `h` (result dropped, ignoreResult); true when it may have it (decode to know).
local function mayHide(text)
  if string.byte(text, 1) == 123 then return string.find(text, '"h":', 1, true) ~= nil end
  return string.find(text, '\161h\195', 1, true) ~= nil
end

local function dirty(id) DIRTY[id] = true end

local function listOf(key, id)
  local text = rcall('HGET', key, id)
  if not text then return {} end
  return cjson.decode(text)
end

-- The dependents of node `id` (record `rec`, nil when not stored): a node with one dependent holds it in its
-- record (`d`, written by create and replace: encode.ts), any other lists them in `next`. A fresh list either way.
local function dependentsOf(id, rec)
  if rec and rec.d then return { rec.d } end
  return listOf(K.next, id)
end

-- Appends `more` (ids) to the dependents of node `id` (record `rec`, nil when not stored), as a `next` row (a
-- record's `d` moves there).
local function addDependents(id, rec, more)
  local list = dependentsOf(id, rec)
  for _, d in ipairs(more) do list[#list + 1] = d end
  if rec and rec.d then rec.d = nil; dirty(id) end
  put('HSET', K.next, id, cjson.encode(list))
end

--------------------------------------------------------------------------------------------------- record.ts
-- One entry of the history list (history mode): a node's move, with the claim token it moved under, if any.
local function historyRecord(id, from, to, attempt, token)
  local h = { node = id, from = from, to = to, attempt = attempt }
  if token then h.token = token end
  return cjson.encode(h)
end

-- Moves a node by one machine event; a refused event is a bug in the caller (IllegalTransition).
local function move(id, rec, event)
  local from = rec.s
  local to = NODE_T[from] and NODE_T[from][event]
  if not to then error('braid: illegal transition|' .. id .. '|' .. from .. '|' .. event) end
  local wasFinal, isFinal = FINAL[from], FINAL[to]
  if wasFinal and not isFinal then W.open = W.open + 1 end
  if isFinal and not wasFinal then W.open = W.open - 1 end
  if rec.k == 'task' then
    if from == 'failed' then W.failed = W.failed - 1 end
    if to == 'failed' then W.failed = W.failed + 1 end
  end
  rec.s = to
  dirty(id)
  if HIST then HISTBUF[#HISTBUF + 1] = historyRecord(id, from, to, rec.a, rec.tk) end
end

local function moveWorkflow(event)
  local to = WF_T[W.state] and WF_T[W.state][event]
  if not to then error('braid: illegal transition|workflow ' .. WF_ID .. '|' .. W.state .. '|' .. event) end
  W.state = to
end

-- Adds a node record in state pending (counted open). `rec` carries its routing fields already.
local function addNode(id, rec, specText)
  put('RPUSH', K.order, id)
  put('HSET', K.spec, id, specText)
  remember(id, rec)
  ORIG_SET[id], ORIG_SCORE[id] = nil, nil
  dirty(id)
  W.open = W.open + 1
end

-- Appends node `id`'s message to `r`: 6 slots (id, task, attempt, queue, priority or '', delay).
local function messageSlots(r, id, rec, delayText)
  r[#r + 1] = id; r[#r + 1] = rec.t; r[#r + 1] = numNow(rec.a); r[#r + 1] = rec.qu
  r[#r + 1] = rec.p and num(rec.p) or ''; r[#r + 1] = delayText
end

local function readyMessage(id, rec, delayText)
  messageSlots(W.ready, id, rec, delayText)
end

--------------------------------------------------------------------------------------------------- node rows
-- The keys a create writes its node rows to (create.lua), and which a staged create writes ahead (stage.lua).
local ROW_KEYS = { 'order', 'spec', 'node', 'deps', 'next', 'input', 'ready', 'hist' }
-- How long the staging keys of a large create live unless its create takes them (ms): an abandoned create (its
-- process died between chunks) leaves nothing behind for long.
local STAGE_TTL_MS = 600000

-- Node rows argv[base + 1 .. base + 7n], 7 per node: id, NodeSpec JSON, initial record (JSON text starting
-- {"s":"pending",), deps JSON ('' none), dependents JSON ('' none), input recipe tokens ('' none), countdownMs
-- of a root ('' for a node with dependencies). Writes them to `keys` (a name of ROW_KEYS -> its key): the order,
-- the specs, the records, deps, dependents, inputs, the roots in `ready` and, in history mode, their moves.
-- A root (no dependencies) is written queued (markReady, as text): queued at NOW, due after its countdown.
local function writeNodeRows(argv, base, n, keys)
  local PENDING = '{"s":"pending",'
  local order, specs, recs, deps, nexts, inputs, scores, hist = {}, {}, {}, {}, {}, {}, {}, {}
  -- A root's record starts with its queued time and due time; made once per countdown (roots mostly share one),
  -- and the due time goes to ZADD as the same text (a number argument is formatted by Redis for each).
  local nowText = num(NOW)
  local queuedHead, dueText = {}, {}
  for i = 1, n do
    local at = base + (i - 1) * 7
    local id, rec = argv[at + 1], argv[at + 3]
    order[#order + 1] = id
    specs[#specs + 1] = id; specs[#specs + 1] = argv[at + 2]
    if argv[at + 4] ~= '' then deps[#deps + 1] = id; deps[#deps + 1] = argv[at + 4] end
    if argv[at + 5] ~= '' then nexts[#nexts + 1] = id; nexts[#nexts + 1] = argv[at + 5] end
    if argv[at + 6] ~= '' then inputs[#inputs + 1] = id; inputs[#inputs + 1] = argv[at + 6] end
    local countdown = argv[at + 7]
    if countdown ~= '' then
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
  pushMany(keys.order, order)
  hsetMany(keys.spec, specs)
  hsetMany(keys.node, recs)
  hsetMany(keys.deps, deps)
  hsetMany(keys.next, nexts)
  hsetMany(keys.input, inputs)
  for i = 1, #scores, 2 * CHUNK do put('ZADD', keys.ready, unpack(scores, i, math.min(i + 2 * CHUNK - 1, #scores))) end
  if #hist > 0 then pushMany(keys.hist, hist) end
end

-- The staging keys of staged create `sid` of this call's workflow: the row keys (ROW_KEYS) and `meta` (hash:
-- `n` nodes staged, `c<i>` set once chunk i is applied). They share the workflow's hash tag, so its slot. Their
-- writes go through put() like any other, but add nothing to the key mask (bit 0): the create that takes them
-- records the keys it renames them to (takeStage).
local function stageKeys(sid)
  local keys = {}
  for _, name in ipairs(ROW_KEYS) do
    keys[name] = BASE .. 'stage:' .. sid .. ':' .. name
    KEYBIT[keys[name]] = 0
  end
  keys.meta = BASE .. 'stage:' .. sid .. ':meta'
  KEYBIT[keys.meta] = 0
  return keys
end

-- Deletes staged create `sid` (an existing workflow, or an incomplete stage).
local function dropStage(sid)
  local all = {}
  for _, key in pairs(stageKeys(sid)) do all[#all + 1] = key end
  rcall('DEL', unpack(all))
end

-- Moves staged create `sid`, which must hold `count` nodes, into this workflow's keys (create.lua, before its
-- own rows, which it appends), recording each key written in the key mask; an incomplete stage (a chunk that
-- failed or never came) is deleted and raises an error, so the create writes nothing.
local function takeStage(sid, count)
  local keys = stageKeys(sid)
  local have = tonumber(rcall('HGET', keys.meta, 'n') or '0')
  if have ~= count then
    dropStage(sid)
    error('braid: staged create incomplete: ' .. have .. ' of ' .. count .. ' nodes staged')
  end
  for _, name in ipairs(ROW_KEYS) do
    if rcall('EXISTS', keys[name]) == 1 then
      WMASK = bit.bor(WMASK, BIT[name])
      rcall('RENAME', keys[name], K[name])
      rcall('PERSIST', K[name])
    end
  end
  rcall('DEL', keys.meta)
end
