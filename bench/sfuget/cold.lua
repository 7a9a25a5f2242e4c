-- Cold path: every request carries an OpenID token the service has not seen.
-- TOKENS_FILE holds one token per line; the (single) thread stops once every
-- token has had its response, so no token is used twice (run with -c1).
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local sent, seen = 0, 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  sent = math.min(sent + 1, #tokens)
  return wrk.format(nil, nil, nil,
    '{"room":"!bench:localhost","device_id":"BENCH","openid_token":{"access_token":"' .. tokens[sent] ..
    '","matrix_server_name":"localhost","expires_in":3600}}')
end
response = function()
  seen = seen + 1
  if seen >= #tokens then wrk.thread:stop() end
end
