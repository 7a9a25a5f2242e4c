-- Cold path: every request carries an OpenID token the service has not seen.
-- TOKENS_FILE holds one token per line; run.sh makes more tokens than requests.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  if i > #tokens then i = 1 end
  return wrk.format(nil, nil, nil,
    '{"room":"!bench:localhost","device_id":"BENCH","openid_token":{"access_token":"' .. tokens[i] ..
    '","matrix_server_name":"localhost","expires_in":3600}}')
end
