-- POST {"token": ...} cycling through the tokens of the file TOKENS (one a line) for as long as
-- the run lasts. Thread k of THREADS starts at token k and steps by THREADS, so the threads share
-- the pool evenly; after the first pass every validation is warm until something invalidates
-- the contexts (bench/fanout.py: a role's permissions change under this load).
local bodies = {}
for line in io.lines(os.getenv("TOKENS")) do
  bodies[#bodies + 1] = '{"token":"' .. line .. '"}'
end
local threads = tonumber(os.getenv("THREADS") or "1")
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local n = nil
function request()
  if n == nil then n = id or 0 end
  local body = bodies[(n % #bodies) + 1]
  n = n + threads
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
