#!/usr/bin/env bash
# Benchmark of the sync query path. It sends the meeting detail query and a
# 50-item meetings page to the gateway with dataloaders and to the same
# gateway with --no-loaders (one statement per relation and per participant's
# user). It also sends a trivial query through the full stack and through a
# bare gqlgen server.
# Prints Markdown table rows for docs/benchmarks.md.
#
# Needs the local services (scripts/services up). Creates its own database
# and drops it at the end; every server it starts listens on 127.0.0.1 and
# is stopped by its process id.
#
# Settings: DURATION (default 10s) per run, RATE (default 1000) and
# LIST_RATE (default 100) requests/s for the fixed-rate runs,
# MEETGRAPH_TEST_DATABASE_URL for the PostgreSQL server.
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-10s}
RATE=${RATE:-1000}
LIST_RATE=${LIST_RATE:-100}
ADMIN_URL=${MEETGRAPH_TEST_DATABASE_URL:-postgres://meetgraph:meetgraph@127.0.0.1:5432/meetgraph?sslmode=disable}
DATABASE=meetgraph_bench_$$
DATABASE_URL=${ADMIN_URL%%/meetgraph\?*}/$DATABASE?sslmode=disable
WORK=$(mktemp -d)
PIDS=()

cleanup() {
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

go build -o "$WORK/meetgraph" ./cmd/meetgraph
go build -o "$WORK/meetgraph-load" ./cmd/meetgraph-load

psql -q "$ADMIN_URL" -c "CREATE DATABASE $DATABASE" >/dev/null
"$WORK/meetgraph" migrate --database-url "$DATABASE_URL" --log-level warn
eval "$("$WORK/meetgraph-load" seed -database-url "$DATABASE_URL")"
TOKEN=$("$WORK/meetgraph" token --dev --user "$VIEWER_ID" --database-url "$DATABASE_URL" --log-level error)

# start_gateway PORT [FLAGS...] starts `meetgraph serve` and sets PID.
start_gateway() {
	local port=$1
	shift
	# One token sends thousands of requests per second here, so the
	# per-user rate limit is off.
	"$WORK/meetgraph" serve --dev --log-level warn --database-url "$DATABASE_URL" \
		--http-addr "127.0.0.1:$port" --rate-limit 0 "$@" 2>"$WORK/gateway-$port.log" &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$WORK/gateway-$port.log" >&2
	return 1
}

start_gateway 18080
LOADERS_PID=$PID
start_gateway 18081 --no-loaders
BASELINE_PID=$PID

"$WORK/meetgraph-load" bare -addr 127.0.0.1:18091 2>"$WORK/bare.log" &
BARE_PID=$!
PIDS+=("$BARE_PID")
sleep 1

# load LABEL PORT PID [FLAGS...] runs one measurement against the server on PORT.
load() {
	local label=$1 port=$2 pid=$3
	shift 3
	"$WORK/meetgraph-load" run -label "$label" -url "http://127.0.0.1:$port/query" -token "$TOKEN" \
		-meeting "$MEETING_ID" -pid "$pid" -duration "$DURATION" "$@"
}

echo "| run | load | requests | req/s | p50 | p99 | server CPU/req | SQL/req | failed / dropped |"
echo "|---|---|---|---|---|---|---|---|---|"
for server in loaders baseline; do
	if [ "$server" = loaders ]; then port=18080 pid=$LOADERS_PID; else port=18081 pid=$BASELINE_PID; fi
	load "detail, $server" $port "$pid" -query detail -concurrency 64 -database-url "$DATABASE_URL"
	load "detail, $server" $port "$pid" -query detail -rate "$RATE"
	load "detail, $server" $port "$pid" -query detail -concurrency 1
	load "meetings(first: 5), $server" $port "$pid" -query list5 -concurrency 64 -database-url "$DATABASE_URL"
	load "meetings(first: 50), $server" $port "$pid" -query list50 -concurrency 64 -database-url "$DATABASE_URL"
	load "meetings(first: 50), $server" $port "$pid" -query list50 -rate "$LIST_RATE"
done
load "trivial, full stack" 18080 "$LOADERS_PID" -query trivial -concurrency 64
"$WORK/meetgraph-load" run -label "trivial, bare gqlgen" -url "http://127.0.0.1:18091/query" \
	-query trivial -pid "$BARE_PID" -duration "$DURATION" -concurrency 64
