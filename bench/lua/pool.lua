-- POST {"token": ...} from the file TOKENS (one a line). Thread k of THREADS takes tokens k,
-- k + THREADS, k + 2 * THREADS, ..., so the threads share the pool evenly.
-- Without CYCLE every request sends a token not sent before (cold validation: random offsets per
-- thread could overlap, and a token sent twice is warm the second time), and running out of
-- tokens is an error. With CYCLE set the threads go round the pool for as long as the run lasts:
-- after the first pass every validation is warm until something invalidates the contexts
-- (bench/fanout.py: a role's permissions change under this load). With DELAY_MS set, each
-- connection waits that many milliseconds before each request (a paced load, short of what the
-- server can take, instead of as much as it can take).
local bodies = {}
for line in io.lines(os.getenv("TOKENS")) do bodies[#bodies + 1] = '{"token":"' .. line .. '"}' end
local threads = tonumber(os.getenv("THREADS") or "1")
local cycle = os.getenv("CYCLE") ~= nil
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
if delay_ms > 0 then
  function delay() return delay_ms end
end
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local i = -1
function request()
  i = i + 1
  local n = (id or 0) + i * threads
  if n >= #bodies then
    if not cycle then error("the token pool is exhausted: mint more") end
    n = n % #bodies
  end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[n + 1])
end
