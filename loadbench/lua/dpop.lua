-- POSTs the benchmark's MCP tools/call to /mcp as DPoP presentations of one bound token, each
-- with its own proof from a file (one per line, each used once: a proof seen twice is refused).
-- Usage: wrk ... -s dpop.lua URL -- PROOFS_FILE TOKEN
-- Every request is formatted once in init(); the file holds more proofs than the run can send.

local body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"lookup","arguments":{"key":"answer"}}}'
local requests = {}
local count = 0
local index = 1

function init(args)
  local path, token = args[1], args[2]
  if path == nil or token == nil then error("usage: wrk ... -s dpop.lua URL -- PROOFS_FILE TOKEN") end
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Accept"] = "application/json, text/event-stream"
  headers["Authorization"] = "DPoP " .. token
  for line in io.lines(path) do
    if #line > 0 then
      headers["DPoP"] = line
      count = count + 1
      requests[count] = wrk.format("POST", "/mcp", headers, body)
    end
  end
  if count == 0 then error("no proofs in " .. path) end
end

function request()
  if index > count then error("out of DPoP proofs: mint more than the run sends") end
  local r = requests[index]
  index = index + 1
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'LOADBENCH {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.3f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
