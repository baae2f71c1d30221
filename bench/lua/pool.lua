-- POST {"token": ...} cycling through the tokens of the file TOKENS (one a line): a fresh token
-- per request (cold validation).
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local i = 0
function setup(thread) thread:set("offset", math.random(#tokens)) end
function request()
  i = i + 1
  local t = tokens[((offset or 0) + i) % #tokens + 1]
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '{"token":"' .. t .. '"}')
end
