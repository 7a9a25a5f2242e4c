"""Mint N Matrix OpenID tokens for one user over one keep-alive connection.

Usage: mint_tokens.py HS_URL ACCESS_TOKEN USER_ID N  (tokens on stdout, one a line).
Synapse handles parallel request_token calls badly on SQLite, so this is sequential.
"""
import http.client, json, sys, urllib.parse

hs, access, user, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
u = urllib.parse.urlsplit(hs)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
path = "/_matrix/client/v3/user/%s/openid/request_token" % urllib.parse.quote(user)
for _ in range(n):
    conn.request("POST", path, body="{}", headers={"Authorization": "Bearer " + access, "Content-Type": "application/json"})
    res = conn.getresponse()
    body = res.read()
    if res.status != 200:
        sys.exit("request_token: HTTP %d %s" % (res.status, body[:200]))
    print(json.loads(body)["access_token"])
