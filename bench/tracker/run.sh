#!/usr/bin/env bash
# Membership tracker on one core: ingest rate of 100,000 call-member events
# across 10,000 rooms (10 devices each) and the resident memory of the state,
# each a fresh process (a cold heap, as a coordinator after start); then the
# go test benchmark, whose numbers BENCHMARKS.md records beside these.
# Usage: bench/tracker/run.sh   (env: RUNS, default 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -tags goolm -o "$work/tracker" ./bench/tracker
for _ in $(seq "$RUNS"); do
	GOMAXPROCS=1 "$work/tracker"
done
GOMAXPROCS=1 go test -tags goolm -run '^$' -bench TrackerIngest -benchtime 100000x -count "$RUNS" ./membership
