#!/usr/bin/env bash
# Key distribution latency in an 8-member MatrixRTC call on the test Synapse
# (see main.go). Starts the test environment (scripts/testenv up; left
# running), builds the coordinator and the bench, runs it.
# Usage: bench/keydist/run.sh [-joins 30] [-stale 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/testenv up >/dev/null
CGO_ENABLED=0 go build -tags goolm -o "$work/coordinator" ./cmd/coordinator
CGO_ENABLED=0 go build -tags goolm -o "$work/keydist" ./bench/keydist
"$work/keydist" -coordinator "$work/coordinator" "$@"
