--[[
  braid Lua library, part 2: the compact layout of a one-node workflow (docs/redis-data-model.md "Compact
  one-node workflows"). Module level of the function library, after lib.lua and before advance.lua; not a
  script by itself.

  Most workflows a task queue sees are one task. create.lua stores such a workflow (one root node whose result
  is the workflow's, no errbacks) in its `wf` hash alone (and `hist` in history mode): the workflow fields
  state, createdAt, km (no `recipe`, see compactRecipe; no open, failed, ebn, run: COMPACT_RUN) plus the node, flat,
  under fields that start with `_`:
    _id    node id (its presence marks the layout)     _spec  NodeSpec JSON text (never decoded here)
    _rec   the node's initial record JSON (static fields: t and, where not at their default, k, qu, p, c, m, e, ni;
           decoded only to inflate); absent when it is the default record of task `_t` (defaultRecord)
    _t     task name       _s  state        _nb  not before (only with a countdown); the attempt is always 1
    _tk    claim token     _lu lease until  _n  starts      _sa started at   _fa  finished at
    _h     '1': ignoreResult (the node's result is the workflow's `result`, shown unless _h)
  Claim and complete of such a workflow read and write these fields (no cjson, one key); every other
  transition (renew, fail, retry, replace, release, cancel, replay, a sweep that must act) first inflates it into the
  general layout of lib.lua, keys and all, and then runs as for any workflow. The transitions are the same
  machine moves as the general code's (NODE_T, WF_T); only the storage differs. Retries, redeliveries and
  republishes inflate, so a compact node has rt = rd = 0 and no sw, bo, x.
]]

-- The fields of the compact layout (HDEL on inflate). `_q` (queued at) and `_a` (attempt, always 1) were written
-- by earlier versions of the store: the node is queued when the workflow is created, so `createdAt` says the same
-- and is read instead.
local COMPACT_FIELDS = { '_id', '_spec', '_rec', '_t', '_s', '_a', '_q', '_nb', '_tk', '_lu', '_n', '_sa', '_fa', '_h' }

-- The 'settled' event of the workflow (events.ts): state, and a small succeeded result as raw JSON text, last.
-- The id is quoted as it is: a workflow id is `A-Za-z0-9._:-` only (runtime/ids.ts; keys.ts checks every id
-- before a script is called), so its JSON is itself in quotes, and cjson.encode cost more than the rest (one
-- concatenation: 0.17-0.22 µs against 0.57-0.73, a scratch EVAL loop).
local function settledEvent(state, result)
  if state == 'succeeded' and result and #result <= SETTLED_RESULT_MAX_BYTES then
    return '{"type":"settled","workflowId":"' .. WF_ID .. '","state":"succeeded","result":' .. result .. '}'
  end
  return '{"type":"settled","workflowId":"' .. WF_ID .. '","state":"' .. state .. '"}'
end

-- Checks a machine move the compact code makes without move(): a refused one is a bug, as in move(). The
-- error names `what` .. `more` (joined only then).
local function allowed(machine, from, event, to, what, more)
  if not (machine[from] and machine[from][event] == to) then
    error('braid: illegal transition|' .. what .. (more or '') .. '|' .. from .. '|' .. event)
  end
end

-- A compact node's attempt: a retry, a redelivery or a replay inflates it first, so it never leaves attempt 1
-- (not stored).
local COMPACT_ATTEMPT = 1

-- A compact workflow's workflow counters, not stored either (lib.lua loadWf fills them in, inflate writes
-- them): `run` 0 (a replay inflates first), `failed` 0 (so does a failure), `ebn` 0 (no errbacks), `open` 1
-- while running and 0 once settled (its one node).
local COMPACT_RUN = 0

-- The initial record of a root task node at every default (encode.ts initialRecord: queue, countdown,
-- maxRedeliveries, no priority, errbacks or input), whose task name needs no JSON escape: not stored in the
-- compact layout (`_rec`), where `_t` says all of it. DEFAULT_RECORD matches it and captures the name.
local DEFAULT_RECORD = '^{"s":"pending","t":"([^"\\%c]*)","ni":true}$'
local function defaultRecord(task)
  return '{"s":"pending","t":"' .. task .. '","ni":true}'
end

-- The task name in an initial record's JSON text (encode.ts initialRecord writes `{"s":"pending","t":"<name>"`
-- first); cjson when the name holds an escape.
local function recordTask(recText)
  return string.match(recText, '^{"s":"pending","t":"([^"\\]*)"') or cjson.decode(recText).t
end

-- In history mode, appends the move of the compact node (as move() records it) and answers the workflow's key
-- mask with the `hist` key in it; else answers nil (the mask is unchanged).
local function compactHistory(km, id, from, to, attempt, token)
  if not HIST then return nil end
  put('RPUSH', K.hist, historyRecord(id, from, to, attempt, token))
  return bit.bor(km, BIT.hist)
end

-- The result recipe (tokens, as encode.ts writes them) of a workflow whose result is node `id`'s: the only
-- recipe a compact workflow has, so it is not stored (inflate() writes it).
local function compactRecipe(id)
  return '["' .. id .. '"]'
end

-- Whether create arguments (create.lua ARGV[5..] from `argv[at]` on) make the compact case: one node, a root
-- (no dependencies, a countdown), no parent input, no errbacks, the workflow's result the node's. A staged
-- create (ARGV[5] longer than the fresh flag) never is.
local function compactCreate(argv, at)
  return #argv[at] == 1 and tonumber(argv[at + 2]) == 1 and tonumber(argv[at + 3]) == 0 and argv[at + 7] == ''
    and argv[at + 9] == '' and argv[at + 10] ~= '' and argv[at + 1] == compactRecipe(argv[at + 4])
end

-- create.lua's compact case: the one root node of a workflow without errbacks whose result is the node's,
-- queued at NOW (its `createdAt`), due at `due`, in the `wf` hash `key` (written straight through: nothing is
-- left for flush()). `_nb` only when the node has a countdown: each field is a scan of the listpack for every
-- later read and write.
local function createCompact(key, id, specText, recText, due)
  allowed(NODE_T, 'pending', 'DEPS_MET', 'queued', id)
  local km = compactHistory(BIT.wf, id, 'pending', 'queued', COMPACT_ATTEMPT) or BIT.wf
  local now = numNow(NOW)
  local task = string.match(recText, DEFAULT_RECORD)
  if task and due <= NOW then
    setWf(key, 'state', 'running', 'createdAt', now, 'km', km, '_id', id, '_spec', specText, '_t', task, '_s', 'queued')
    return
  end
  local fields = { 'state', 'running', 'createdAt', now, 'km', km, '_id', id, '_spec', specText, '_t', task or recordTask(recText), '_s', 'queued' }
  if not task then fields[#fields + 1] = '_rec'; fields[#fields + 1] = recText end
  if due > NOW then fields[#fields + 1] = '_nb'; fields[#fields + 1] = numNow(due) end
  setWf(key, unpack(fields))
end

-- Turns a compact workflow into the general layout (no-op for any other): order, spec, node (record with the
-- flat fields folded in), its sweep index entry and result; the compact fields go. A settled workflow's new
-- keys get the retention its `wf` key has left. True when it inflated.
local function inflate()
  local v = rcall('HMGET', K.wf, '_id', '_spec', '_rec', '_s', '_t', 'createdAt', '_nb', '_tk', '_lu', '_n', '_sa', '_fa', '_h', 'result', 'km', 'state')
  local id = v[1]
  if not id then return false end
  local rec = decodeRecord(v[3] or defaultRecord(v[5]))
  rec.s, rec.a, rec.q, rec.nb = v[4], COMPACT_ATTEMPT, tonumber(v[6]), tonumber(v[7])
  rec.tk, rec.lu, rec.n, rec.sa, rec.fa = v[8] or nil, tonumber(v[9]), tonumber(v[10]) or 0, tonumber(v[11]), tonumber(v[12])
  if v[13] == '1' then rec.h = true end
  local mask = bit.bor(tonumber(v[15]) or BIT.wf, ALWAYS_KEYS)
  put('RPUSH', K.order, id)
  put('HSET', K.spec, id, v[2])
  put('HSET', K.node, id, encodeRecord(rec))
  local set, score = indexOf(rec)
  if set == 'L' then put('ZADD', K.leases, score, id) elseif set == 'R' then put('ZADD', K.ready, score, id) end
  local written = { K.order, K.spec, K.node }
  if rec.s == 'succeeded' and not rec.h and v[14] then
    put('HSET', K.res, id, v[14])
    mask = bit.bor(mask, BIT.res)
    written[#written + 1] = K.res
  end
  rcall('HDEL', K.wf, unpack(COMPACT_FIELDS))
  local open = v[16] == 'running' and 1 or 0
  put('HSET', K.wf, 'km', mask, 'recipe', compactRecipe(id), 'open', open, 'failed', 0, 'ebn', 0, 'run', COMPACT_RUN)
  local ttl = rcall('PTTL', K.wf)
  if ttl > 0 then for _, key in ipairs(written) do rcall('PEXPIRE', key, ttl) end end
  return true
end

-- The compact half of claimOne (advance.lua), on the fields of `wf` hash `key` in the order of CLAIM_FIELDS
-- (`v`, from `at` on: a quick claim reads just those, claimOne passes loadWf's, lib.lua WF_FIELDS, from 6 on).
-- Written straight through, `km` only when the history bit is new; a claim leaves W unloaded (the next entry
-- of a batch reads the workflow again).
-- The fields are in an order a completion reads the first five of (COMPLETE_FIELDS).
local CLAIM_FIELDS = { 'state', 'km', '_id', '_s', '_tk', '_t', '_nb', '_n', '_spec' }
local function claimCompact(key, state, v, at, id, attempt, task, token, leaseMs)
  if id ~= v[at + 1] then return { CODE.ORPHAN } end
  if v[at + 4] ~= task then return { CODE.FORGED } end
  local s, a = v[at + 2], COMPACT_ATTEMPT
  local already = s == 'running' and v[at + 3] == token and a == attempt
  if not already then
    if state ~= 'running' or a ~= attempt or (s ~= 'queued' and s ~= 'retrying') then return { CODE.STALE } end
    local nb = tonumber(v[at + 5])
    if nb and NOW < nb then return { CODE.EARLY, num(nb - NOW) } end
    allowed(NODE_T, s, 'CLAIM', 'running', id)
    local km0 = tonumber(v[at]) or ALL_KEYS_MASK
    local km = compactHistory(km0, id, s, 'running', a, token)
    local lu, n = numNow(NOW + tonumber(leaseMs)), numNow((tonumber(v[at + 6]) or 0) + 1)
    if km and km ~= km0 then
      setWf(key, '_s', 'running', '_tk', token, '_lu', lu, '_n', n, '_sa', numNow(NOW), 'km', km)
    else
      setWf(key, '_s', 'running', '_tk', token, '_lu', lu, '_n', n, '_sa', numNow(NOW))
    end
  end
  W, WMASK = nil, 0 -- km included: nothing is left for flush()
  return { CODE.CLAIMED, already and 1 or 0, v[at + 7] } -- the short form (codes.ts claimFrom)
end

-- The compact half of completeOne (advance.lua), on the fields of `wf` hash `key` in the order of
-- COMPLETE_FIELDS (`v`, from `at` on; completeOne passes loadWf's, lib.lua WF_FIELDS, from 6 on):
-- the node succeeds and, being the only one, settles the workflow with its result (the recipe of a one-node
-- workflow is that node); retention and event at once. Written straight through (`km` only when the history
-- bit is new, `_h` only when set); a completion leaves W unloaded.
local COMPLETE_FIELDS = { 'state', 'km', '_id', '_s', '_tk' } -- CLAIM_FIELDS' first five
local function completeCompact(key, state, v, at, id, token, result, ignoreResult)
  local run = COMPACT_RUN
  if id ~= v[at + 1] then return { CODE.ORPHAN, '', run, 0 } end
  if v[at + 3] ~= token then return { CODE.STALE, '', run, 0 } end
  local s = v[at + 2]
  if s ~= 'running' then return { s == 'succeeded' and CODE.ALREADY or CODE.STALE, '', run, 0 } end
  allowed(NODE_T, 'running', 'SUCCEED', 'succeeded', id)
  allowed(WF_T, state, 'SETTLE_SUCCEEDED', 'succeeded', 'workflow ', WF_ID)
  local km0 = tonumber(v[at]) or ALL_KEYS_MASK
  local now, km = numNow(NOW), compactHistory(km0, id, 'running', 'succeeded', COMPACT_ATTEMPT, token) or km0
  if km ~= km0 then
    setWf(key, 'state', 'succeeded', 'settledAt', now, 'result', result, '_s', 'succeeded', '_fa', now, 'km', km)
  else
    setWf(key, 'state', 'succeeded', 'settledAt', now, 'result', result, '_s', 'succeeded', '_fa', now)
  end
  if ignoreResult == '1' then setWf(key, '_h', '1') end
  rcall('PEXPIRE', key, RETENTION)
  if bit.band(km, BIT.hist) ~= 0 then rcall('PEXPIRE', K.hist, RETENTION) end
  rcall('PUBLISH', CHANNEL, settledEvent('succeeded', result))
  W, WMASK = nil, 0 -- km included: nothing is left for flush()
  return { CODE.OK, 'succeeded', run, 0 }
end

--[[
  The quick ways of the batches (lib.lua batch, outside history mode) for the case a task queue sees most: a
  compact workflow with one entry in the batch. Each reads the `wf` hash once and applies the compact
  transition above, without the per-call state of begin() (key names, node tables, write-back), which cost
  more than the transition itself. Anything else answers nil and takes the general way.
]]

-- claim_many's: the group's one entry of 5 (claim.lua ARGV[5..9]). It reads only what a compact claim needs
-- (CLAIM_FIELDS); any other workflow takes the general way, which reads its own.
local function quickClaim(key, common, now, argv, from, n)
  if n ~= 5 then return nil end
  local v = redis.call('HMGET', key, unpack(CLAIM_FIELDS))
  if not v[3] then return nil end
  enter(common, now)
  return { claimCompact(key, v[1], v, 2, argv[from], tonumber(argv[from + 1]), argv[from + 2], argv[from + 3], argv[from + 4]) }
end

-- complete_many's: the group's one entry of 7 (complete.lua ARGV[5..11]; a compact node has no dependents to
-- continue with), reading only COMPLETE_FIELDS. A workflow with a history list takes the general way (its key
-- name comes from begin()), as does any other layout.
local function quickComplete(key, common, now, argv, from, n)
  if n ~= 7 then return nil end
  local v = redis.call('HMGET', key, unpack(COMPLETE_FIELDS))
  if not v[3] or bit.band(tonumber(v[2]) or ALL_KEYS_MASK, BIT.hist) ~= 0 then return nil end
  enter(common, now)
  return { completeCompact(key, v[1], v, 2, argv[from], argv[from + 1], argv[from + 2], argv[from + 3]) }
end

-- create_many's: the compact case of create.lua (compactCreate) for a fresh id, whose leftover keys create.lua
-- need not delete (the group's 11 arguments, create.lua ARGV[5..15]).
local function quickCreate(key, common, now, argv, from, n)
  if n ~= 11 or argv[from] ~= '1' or not compactCreate(argv, from) then return nil end
  enter(common, now)
  if rcall('EXISTS', key) == 1 then return { { CODE.EXISTS } } end
  createCompact(key, argv[from + 4], argv[from + 5], argv[from + 6], NOW + tonumber(argv[from + 10]))
  return { { CODE.OK, '' } }
end

-- The sweep of a compact workflow that needs none (sweep.lua): true when its node (state `s`, lease until `lu`,
-- queued at `q` (the workflow's createdAt), not before `nb`, as stored) is neither running past its lease nor ready and unclaimed for
-- `after` ms; otherwise the caller inflates and sweeps as usual.
local function compactIdle(after, s, lu, q, nb)
  if s == 'running' then return (tonumber(lu) or 0) > NOW end
  if s == 'queued' or s == 'retrying' then return math.max(tonumber(q) or 0, tonumber(nb) or 0) + after > NOW end
  return true
end

-- The fields a sweep looks at first (sweep.lua): the state and run that answer for a settled workflow, and a
-- compact node's state, lease, queued and due times; `cz` marks a cancel left half done.
local SWEEP_PEEK = { 'state', 'run', '_id', '_s', '_lu', 'createdAt', '_nb', 'cz' }

-- sweep_many's quick way: what sweep.lua answers a missing, a settled or an idle compact workflow (this last as
-- the bare code OK, codes.ts sweepFrom), from its peek alone, without the per-call state of begin() (which cost a sweep of 10,000 idle compact workflows 14 µs of
-- Redis each); nil when the workflow needs the general way (a running workflow in the general layout, a compact
-- one whose node the sweep must move, a cancel to step on), whose peek sweep.lua then takes over (sweepPeek).
-- `after` republishAfterMs, `budget` what the call has left.
local PEEKED = { key = nil, fields = nil }
local function quickSweep(key, common, now, after, budget)
  local peek = redis.call('HMGET', key, unpack(SWEEP_PEEK))
  if not peek[1] then return { CODE.MISSING } end
  local run = tonumber(peek[2]) or COMPACT_RUN
  if peek[1] == 'running' and peek[3] then
    enter(common, now)
    if budget <= 0 or compactIdle(after, peek[4], peek[5], peek[6], peek[7]) then return CODE.OK end -- idle: the short form
  elseif peek[1] ~= 'running' and not peek[8] then
    return { CODE.NOT_RUNNING, peek[1], run }
  end
  PEEKED.key, PEEKED.fields = key, peek
  return nil
end

-- sweep.lua's peek of `key`: the one quickSweep read just before it handed this workflow to the general way (in
-- the same script, nothing written between), else a fresh HMGET.
local function sweepPeek(key)
  local fields = PEEKED.key == key and PEEKED.fields or nil
  PEEKED.key, PEEKED.fields = nil, nil
  return fields or rcall('HMGET', key, unpack(SWEEP_PEEK))
end

-- A single call (claim.lua, complete.lua, create.lua; library.ts registers those three with it) takes the quick
-- way of its batch first, as a batch of one entry would (outside history mode; `argv` ARGV, whose 1..4 are a
-- batch's common arguments and 5.. its entry), else begin() and the script.
local function single(key, argv, quick, run)
  if argv[2] ~= '1' then
    local replies = quick(key, argv, nil, argv, 5, #argv - 4)
    if replies then return replies[1] end
  end
  begin(key, argv)
  return run(argv)
end
