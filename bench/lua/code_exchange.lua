-- POST /oauth2/token with grant_type=authorization_code and its PKCE code_verifier, each code of
-- CODES (one a line, minted by authorize.lua) exactly once: thread k of THREADS takes codes k,
-- k + THREADS, k + 2 * THREADS, ... (as pool.lua does with tokens). A public client: client_id
-- in the form, no secret. Past the pool's end it sends "exhausted" (a 400, counted as an error).
local codes = {}
for line in io.lines(os.getenv("CODES")) do codes[#codes + 1] = line end
local threads = tonumber(os.getenv("THREADS") or "1")
local rest = "&redirect_uri=" .. os.getenv("REDIRECT") .. "&code_verifier=" .. os.getenv("VERIFIER")
  .. "&client_id=" .. os.getenv("CLIENT_ID")
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local i = -1
function request()
  i = i + 1
  local code = codes[(id or 0) + i * threads + 1] or "exhausted"
  return wrk.format("POST", "/oauth2/token", {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=authorization_code&code=" .. code .. rest)
end
