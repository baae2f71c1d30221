-- GET /oauth2/authorize (AUTHORIZE: the path with its query, less state) as signed-in browsers, to mint the
-- one-time codes code_exchange.lua spends. COOKIES holds one Cookie header a line, one user
-- each; thread k of THREADS takes users k, k + THREADS, ... in turn. Each redirect's code is
-- written to CODES.<thread> as "<user> <code>" (run.py keeps at most a few dozen per user, under
-- guildhall's sessions-per-user limit).
local cookies = {}
for line in io.lines(os.getenv("COOKIES")) do cookies[#cookies + 1] = line end
local threads = tonumber(os.getenv("THREADS") or "1")
local path = os.getenv("AUTHORIZE")
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local out = nil
local sent = -1
function init(args)
  out = io.open(os.getenv("CODES") .. "." .. (id or 0), "w")
  out:setvbuf("line")
end
function request()
  sent = sent + 1
  local user = ((id or 0) + sent * threads) % #cookies
  return wrk.format("GET", path .. "&state=u" .. user, {["Cookie"] = cookies[user + 1]})
end
function response(status, headers, body)
  -- Responses come back in order on each connection, but connections interleave: the user is
  -- read back from the code's redirect, not guessed.
  local location = headers["Location"] or headers["location"]
  local code = location and location:match("[?&]code=([^&]+)")
  local user = location and location:match("[?&]state=u(%d+)")
  if code then out:write((user or "?") .. " " .. code .. "\n") end
end
