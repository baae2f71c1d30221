-- POST /auth/refresh as chains: every thread holds refresh tokens (from REFRESH, one a line) and
-- replaces each with the one the answer returns, so every request presents an unspent token.
local all = {}
for line in io.lines(os.getenv("REFRESH")) do all[#all + 1] = line end
local threads = 0
function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end
local queue = nil
function init(args)
  queue = {}
  local step = tonumber(os.getenv("THREADS"))
  for i = (first or 0) + 1, #all, step do queue[#queue + 1] = all[i] end
end
function request()
  -- wrk also calls request() once per thread to prepare a buffer, so threads hold spares.
  local t = table.remove(queue, 1) or "exhausted"
  return wrk.format("POST", "/auth/refresh", {["Content-Type"] = "application/json"}, '{"refresh_token":"' .. t .. '"}')
end
function response(status, headers, body)
  local t = body:match('"refresh_token":"([^"]+)"')
  if t then queue[#queue + 1] = t end
end
