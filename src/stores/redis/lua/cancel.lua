--[[
  cancel: ends every open node and settles the workflow `canceled` (src/runtime/step/control.ts cancel).
  Each non-final node moves to canceled (CANCEL): queued ones never run, running ones are fenced off (their
  commits answer STALE, their renewals CANCELED). O(nodes), in steps of ARGV[5] nodes.

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)
    ARGV[5]      most nodes moved in this call (advance.lua cancelNodes; 0: all): the workflow is canceled in the
                 first call, its open nodes in as many calls as it takes, each answering whether nodes are left

  Output:
    { CODE.OK, 'canceled', run, more }   canceled now; more = 1 while open nodes are left: call again
    { CODE.ALREADY, state, run, more }   the workflow was not running (already settled, or canceled by a re-sent
                                         or an earlier call); a cancel left half done takes its next step here
    { CODE.MISSING }                     no such workflow

  Events: 'canceled' on ARGV[4] .. ':canceled' (the channel workers listen on, events.ts), then 'settled' (state
  'canceled', no result) on ARGV[4], both in the first call; every key it holds gets the retention then.
]]
if not loadWf() then return { CODE.MISSING } end
local count = tonumber(ARGV[5]) or 0
if count <= 0 then count = -1 end
if W.state ~= 'running' then
  if rcall('HEXISTS', K.wf, 'cz') == 0 then return { CODE.ALREADY, W.state, W.run, 0 } end
  local left = cancelNodes(count)
  finish()
  return { CODE.ALREADY, W.state, W.run, left and 1 or 0 }
end
moveWorkflow('CANCEL')
W.settledAt = num(NOW)
rcall('PUBLISH', CHANNEL .. ':canceled', '{"type":"canceled","workflowId":' .. cjson.encode(WF_ID) .. '}')
W.settled = W.state
local left = cancelNodes(count)
finish()
-- finish() gives `leases` and `ready` no retention: a settled workflow has emptied them. Nodes left in them
-- until the next step: the retention, in case that step never comes.
if left then
  for _, name in ipairs({ 'leases', 'ready' }) do if mayExist(name) then rcall('PEXPIRE', K[name], RETENTION) end end
end
return { CODE.OK, W.state, W.run, left and 1 or 0 }
