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

-- done() is in report.lua, appended to this script when the benchmark writes it out.
