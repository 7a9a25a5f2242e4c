-- Warm path: the same OpenID token on every request (verified once, then cached).
-- BODY_FILE holds the JSON body, written by run.sh. With MAX_REQUESTS set the
-- (single) thread stops after that many responses.
local f = assert(io.open(os.getenv("BODY_FILE")))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local max = tonumber(os.getenv("MAX_REQUESTS") or "")
local seen = 0
response = function()
  seen = seen + 1
  if max and seen >= max then wrk.thread:stop() end
end
