-- POST /auth/login with names no account has (a guessing flood): each request a new random name.
local counter = 0
function setup(thread) thread:set("prefix", tostring(math.random(1, 1e9))) end
function request()
  counter = counter + 1
  local body = '{"email":"nobody-' .. (prefix or "0") .. "-" .. counter .. '@flood.test","password":"guess ' .. counter .. '"}'
  return wrk.format("POST", "/auth/login", {["Content-Type"] = "application/json"}, body)
end
