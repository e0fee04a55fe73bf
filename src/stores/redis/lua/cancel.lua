--[[
  cancel: ends every open node and settles the workflow `canceled` (src/runtime/step/control.ts cancel).
  Each non-final node moves to canceled (CANCEL): queued ones never run, running ones are fenced off (their
  commits answer STALE, their renewals CANCELED). O(nodes), once.

  Input:
    KEYS[1]      the workflow's `wf` key; its other keys derive from its tag (lib.lua)
    ARGV[1..4]   workflowId, history flag, retentionMs, events channel (lib.lua)

  Output:
    { CODE.OK, 'canceled', run }
    { CODE.ALREADY, state, run }   the workflow was not running (already settled, or canceled by a re-sent call)
    { CODE.MISSING }               no such workflow

  Events: 'canceled' on ARGV[4] .. ':canceled' (the channel workers listen on, events.ts), then 'settled' (state
  'canceled', no result) on ARGV[4]; every key it holds gets the retention.
]]
if not loadWf() then return { CODE.MISSING } end
if W.state ~= 'running' then return { CODE.ALREADY, W.state, W.run } end
loadAllNodes()
for _, id in ipairs(rcall('LRANGE', K.order, 0, -1)) do
  local rec = NODES[id]
  if not FINAL[rec.s] then
    move(id, rec, 'CANCEL')
    rec.fa = NOW
  end
end
moveWorkflow('CANCEL')
W.settledAt = num(NOW)
rcall('PUBLISH', CHANNEL .. ':canceled', '{"type":"canceled","workflowId":' .. cjson.encode(WF_ID) .. '}')
W.settled = W.state
finish()
return { CODE.OK, W.state, W.run }
