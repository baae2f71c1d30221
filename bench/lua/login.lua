-- POST /auth/login cycling through bench users user<N>@bench.test (USERS env var).
local users = tonumber(os.getenv("USERS"))
local i = 0
function setup(thread) thread:set("offset", math.random(users)) end
function request()
  i = i + 1
  local n = ((offset or 0) + i) % users
  local body = '{"email":"user' .. n .. '@bench.test","password":"benchmark password"}'
  return wrk.format("POST", "/auth/login", {["Content-Type"] = "application/json"}, body)
end
