#!/usr/bin/env bash
# Load test of POST /sfu/get against the real Synapse and LiveKit of
# scripts/testenv, with wrk on loopback. Prints the numbers BENCHMARKS.md
# records: warm path (one token, cached), cold path (every token new) next to
# a direct Synapse userinfo call, and resident memory after 5,000 and 50,000
# requests. The coordinator runs on CPU 1 and wrk on CPU 0, so the two do
# not fight over the machine's two cores (Go sizes GOMAXPROCS to the
# affinity). Usage: bench/sfuget/run.sh   (env: CONNS, DURATION, COLD_TOKENS)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=bench/sfuget
CONNS=${CONNS:-16}
DURATION=${DURATION:-15s}
COLD_TOKENS=${COLD_TOKENS:-1000}
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null

scripts/testenv up >/dev/null
# shellcheck disable=SC1090
source <(scripts/testenv env)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

CGO_ENABLED=0 go build -tags goolm -o "$work/coordinator" ./cmd/coordinator
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LIVEKIT_URL=$SWB_LK_URL LIVEKIT_KEY=$SWB_LK_KEY LIVEKIT_SECRET=$SWB_LK_SECRET \
	LIVEKIT_FULL_ACCESS_HOMESERVERS=$SWB_HS_SERVER_NAME \
	LIVEKIT_CS_API_URL_OVERRIDES=$SWB_HS_SERVER_NAME=$SWB_HS_URL \
	LIVEKIT_JWT_BIND=127.0.0.1:$port LIVEKIT_LOG_LEVEL=error \
	taskset -c 1 "$work/coordinator" serve >"$work/coordinator.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
url=http://127.0.0.1:$port/sfu/get

# A user and its tokens.
printf '%s\n' "$SWB_HS_SHARED_SECRET" >"$work/ss"
user=bench$RANDOM$RANDOM
printf 'benchpassword\n' >"$work/pw"
"$work/coordinator" register-user --homeserver "$SWB_HS_URL" --shared-secret-file "$work/ss" --user "$user" --password-file "$work/pw" >/dev/null
access=$(curl -fsS -XPOST "$SWB_HS_URL/_matrix/client/v3/login" \
	-d "{\"type\":\"m.login.password\",\"identifier\":{\"type\":\"m.id.user\",\"user\":\"$user\"},\"password\":\"benchpassword\"}" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
echo "minting $COLD_TOKENS OpenID tokens..." >&2
python3 "$here/mint_tokens.py" "$SWB_HS_URL" "$access" "@$user:$SWB_HS_SERVER_NAME" "$COLD_TOKENS" >"$work/tokens"
token=$(head -1 "$work/tokens")
printf '{"room":"!bench:localhost","device_id":"BENCH","openid_token":{"access_token":"%s","matrix_server_name":"%s","expires_in":3600}}' \
	"$token" "$SWB_HS_SERVER_NAME" >"$work/body"

rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
report() { # name, wrk output; the cold run stops itself, so its req/s is not meaningful
	awk -v name="$1" '/50%/ {p50=$2} /99%/ {p99=$2} /Requests\/sec/ {rps=$2} /requests in/ {n=$1}
		END {if (name ~ /cold/) rps = "-"; printf "%-28s %9s req/s  p50 %-8s p99 %-8s (%s requests)\n", name, rps, p50, p99, n}' <<<"$2"
}

# Memory: RSS after the first 5,000 requests, then after 50,000 in all.
MAX_REQUESTS=5000 BODY_FILE="$work/body" taskset -c 0 wrk -t1 -c"$CONNS" -d60s -s "$here/warm.lua" "$url" >/dev/null 2>&1
rss5=$(rss)
MAX_REQUESTS=45000 BODY_FILE="$work/body" taskset -c 0 wrk -t1 -c"$CONNS" -d120s -s "$here/warm.lua" "$url" >/dev/null 2>&1
rss50=$(rss)

out=$(BODY_FILE="$work/body" taskset -c 0 wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$here/warm.lua" "$url" 2>&1)
report "warm /sfu/get" "$out"
# The cold run stops when the tokens run out (a second use would be warm).
out=$(TOKENS_FILE="$work/tokens" taskset -c 0 wrk -t1 -c1 -d120s --latency -s "$here/cold.lua" "$url" 2>&1)
report "cold /sfu/get (new tokens)" "$out"
out=$(taskset -c 0 wrk -t1 -c1 -d5s --latency "$SWB_HS_URL/_matrix/federation/v1/openid/userinfo?access_token=$token" 2>&1)
report "direct Synapse userinfo" "$out"
echo "RSS after 5,000 requests: ${rss5} KiB; after 50,000: ${rss50} KiB; growth $(((rss50 - rss5) / 1024)) MiB"
grep -iE "error|panic" "$work/coordinator.log" | head -5 || true
