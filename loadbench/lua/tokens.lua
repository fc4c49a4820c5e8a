-- POSTs the benchmark's MCP tools/call to /mcp, cycling through the bearer tokens in a file
-- (one per line). Usage: wrk ... -s tokens.lua URL -- TOKENS_FILE
-- Every request is formatted once in init(), so the load generator does the same small amount
-- of work per request in every configuration. With several wrk threads, each starts at its own
-- offset in the list.

local body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"lookup","arguments":{"key":"answer"}}}'
local requests = {}
local count = 0
local index = 1
local next_thread = 0

function setup(thread)
  thread:set("wrk_thread", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  local path = args[1]
  if path == nil then error("usage: wrk ... -s tokens.lua URL -- TOKENS_FILE") end
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Accept"] = "application/json, text/event-stream"
  for line in io.lines(path) do
    if #line > 0 then
      headers["Authorization"] = "Bearer " .. line
      count = count + 1
      requests[count] = wrk.format("POST", "/mcp", headers, body)
    end
  end
  if count == 0 then error("no tokens in " .. path) end
  local threads = tonumber(args[2] or "1")
  index = 1 + math.floor(count * (wrk_thread or 0) / threads) % count
end

function request()
  local r = requests[index]
  index = index + 1
  if index > count then index = 1 end
  return r
end

-- done() is in report.lua, appended to this script when the benchmark writes it out.
