-- A flood of tokens whose `kid` nobody publishes: every request carries a new random kid in an
-- otherwise well-formed token of the trusted issuer. Usage:
--   wrk ... -s flood.lua URL -- SUFFIX_FILE
-- SUFFIX_FILE holds ".payload.signature" of a valid token; the header is built per request.

local body = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"lookup","arguments":{"key":"answer"}}}'
local suffix = nil
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local headers = {}
local next_thread = 0

function setup(thread)
  thread:set("wrk_thread", next_thread)
  next_thread = next_thread + 1
end

local function b64url(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = alphabet:sub(c1 + 1, c1 + 1) .. alphabet:sub(c2 + 1, c2 + 1)
    if b then out[#out + 1] = alphabet:sub(c3 + 1, c3 + 1) end
    if c then out[#out + 1] = alphabet:sub(c4 + 1, c4 + 1) end
  end
  return table.concat(out)
end

function init(args)
  local f = assert(io.open(args[1], "r"))
  suffix = f:read("*l")
  f:close()
  math.randomseed(os.time() * 1000 + (wrk_thread or 0))
  headers["Content-Type"] = "application/json"
  headers["Accept"] = "application/json, text/event-stream"
end

function request()
  local kid = string.format("%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
  local header = b64url('{"alg":"RS256","typ":"at+jwt","kid":"flood-' .. kid .. '"}')
  headers["Authorization"] = "Bearer " .. header .. suffix
  return wrk.format("POST", "/mcp", headers, body)
end

-- done() is in report.lua, appended to this script when the benchmark writes it out.
