--[[
  sweep_many: the sweeps of several workflows whose keys share a cluster slot (sweeper.ts groups the ids of the
  global index by slot), each answered as sweep.lua answers one: a missing, settled or idle compact workflow from
  its peek alone (compact.lua quickSweep), any other by sweep.lua itself, with its own per-call state (lib.lua
  begin). A sweep is idempotent, so a batch sent twice applies once; what a sweep finds due it acts on once.

  Input:
    KEYS[g]      the `wf` key of the g-th workflow of the batch (all of one slot)
    ARGV[1..3]   history flag, retentionMs, events channel (a single script's ARGV[2..4])
    ARGV[4..7]   republishAfterMs, budget, WorkerLostError template, redeliveredRepublishAfterMs (sweep.lua
                 ARGV[5..8]); the budget is the call's: each workflow gets what the ones before it left, so the
                 call lists about `budget` messages in all (at most twice that: sweep.lua bounds lapsed leases and
                 unclaimed nodes apart); a workflow past it is still looked at (settled, missing), with nothing to
                 list
    ARGV[7 + g]  the g-th workflow's id

  Output:
    one reply per workflow, in order, each as sweep.lua returns it, except that an idle workflow answers the bare
    CODE.OK (compact.lua quickSweep); { CODE.ERROR, message } for a workflow whose sweep raised an error (the
    others are unaffected)

  Events: as sweep.lua, per workflow.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local common = { '', ARGV[1], ARGV[2], ARGV[3] }
local args = { '', ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7] }
local function sweepOne() return RUN.sweep(args) end
local out, left, after = {}, tonumber(ARGV[5]), tonumber(ARGV[4])
for g = 1, #KEYS do
  common[1] = ARGV[7 + g]
  -- Most workflows need nothing: compact.lua quickSweep answers those from one HMGET; the rest (and any error
  -- it meets) take the general way, which raises the error again for the reply below.
  local ok, reply = pcall(quickSweep, KEYS[g], common, now, after, left)
  if not (ok and reply) then
    args[1] = ARGV[7 + g]
    args[6] = num(math.max(0, left))
    ok, reply = pcall(runGroup, KEYS[g], common, now, sweepOne)
  end
  if ok then
    out[g] = reply
    if type(reply) == 'table' and reply[1] == CODE.OK then left = left - (#reply - 6) / 6 end
  else out[g] = { CODE.ERROR, type(reply) == 'table' and reply.err or tostring(reply) } end
end
return out
