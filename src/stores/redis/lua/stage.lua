--[[
  stage: one chunk of a large workflow's nodes, written ahead of its create (redis-store.ts stage). The
  rows go to staging keys in the workflow's slot (lib.lua stageKeys), which the create moves into place
  (create.lua ARGV[5], lib.lua takeStage) together with its own last chunk. Nothing of the workflow is visible
  before its create: no `wf` key, nothing in the sweep indexes, no message published. Staging keys expire after
  STAGE_TTL_MS unless a create takes them, so a create abandoned between chunks leaves nothing behind for long.
  Why: a create runs as one script, and Redis runs nothing else meanwhile (about 7 µs per node; 0.7 s for
  100,000 nodes); in chunks, Redis runs each chunk while the store encodes the next, and other clients' commands
  run between chunks.

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      staging id (random, one per create)
    ARGV[6]      chunk index
    ARGV[7]      N, the number of nodes in this chunk
    then N x 7   node rows, as create.lua's

  Output:
    { CODE.OK, nodes staged so far }   a chunk sent again (a cut connection) is applied once
    { CODE.EXISTS }                    the workflow exists already: nothing written

  Events: none.
]]
if rcall('EXISTS', K.wf) == 1 then return { CODE.EXISTS } end
local keys = stageKeys(ARGV[5])
if put('HSETNX', keys.meta, 'c' .. ARGV[6], '1') == 1 then
  local n = tonumber(ARGV[7])
  writeNodeRows(ARGV, 7, n, keys)
  put('HINCRBY', keys.meta, 'n', n)
end
for _, key in pairs(keys) do rcall('PEXPIRE', key, STAGE_TTL_MS) end
return { CODE.OK, tonumber(rcall('HGET', keys.meta, 'n')) }
