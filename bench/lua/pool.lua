-- POST {"token": ...} with a fresh token per request (cold validation), from the file TOKENS
-- (one a line). Thread k of THREADS takes tokens k, k + THREADS, k + 2 * THREADS, ... so no two
-- requests of a run send the same token (random offsets per thread could overlap, and a token
-- sent twice is warm the second time).
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local threads = tonumber(os.getenv("THREADS") or "1")
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local i = -1
function request()
  i = i + 1
  local n = (id or 0) + i * threads
  if n >= #tokens then error("the token pool is exhausted: mint more") end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '{"token":"' .. tokens[n + 1] .. '"}')
end
