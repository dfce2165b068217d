#!/usr/bin/env bash
# Benchmark of the requestAnalysis mutation against a separate
# `meetgraph serve` process, so that the gateway's CPU time per mutation
# is measured apart from the load program's. Prints one Markdown table row
# per run for docs/benchmarks.md.
#
# Needs the local services (scripts/services up). Creates its own database
# and RabbitMQ vhost and removes both at the end; the gateway listens on
# 127.0.0.1 and is stopped by its process id.
#
# Settings:
#   DURATION   length of each run (default 10s)
#   RUNS       runs against one gateway (default 3)
#   CLIENTS    concurrent clients (default 64)
#   ROLE       serve (default), or all to run the worker in the same process
#   MAX_CONNS  MEETGRAPH_DATABASE_MAX_CONNS of the gateway (default 24)
#   MEETGRAPH  a prebuilt meetgraph binary to measure instead of this tree's
#   MEETGRAPH_TEST_DATABASE_URL, MEETGRAPH_TEST_AMQP_URL  the local servers
set -euo pipefail

cd "$(dirname -- "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-10s}
RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-64}
ROLE=${ROLE:-serve}
MAX_CONNS=${MAX_CONNS:-24}
ADMIN_URL=${MEETGRAPH_TEST_DATABASE_URL:-postgres://meetgraph:meetgraph@127.0.0.1:5432/meetgraph?sslmode=disable}
AMQP_BASE=${MEETGRAPH_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
DATABASE=meetgraph_bench_$$
DATABASE_URL=${ADMIN_URL%%/meetgraph\?*}/$DATABASE?sslmode=disable
VHOST=meetgraph-bench-$$
AMQP_URL=${AMQP_BASE%/}/$VHOST
AMQP_USER=${AMQP_BASE#amqp://}
AMQP_USER=${AMQP_USER%%:*}
WORK=$(mktemp -d)
GATEWAY_PID=

cleanup() {
	if [ -n "$GATEWAY_PID" ]; then
		kill "$GATEWAY_PID" 2>/dev/null || true
		wait "$GATEWAY_PID" 2>/dev/null || true
	fi
	psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null || true
	rabbitmqctl --quiet delete_vhost "$VHOST" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

MEETGRAPH=${MEETGRAPH:-}
if [ -z "$MEETGRAPH" ]; then
	go build -o "$WORK/meetgraph" ./cmd/meetgraph
	MEETGRAPH=$WORK/meetgraph
fi
go build -o "$WORK/meetgraph-load" ./cmd/meetgraph-load

psql -q "$ADMIN_URL" -c "CREATE DATABASE $DATABASE" >/dev/null
rabbitmqctl --quiet add_vhost "$VHOST" >/dev/null
rabbitmqctl --quiet set_permissions -p "$VHOST" "$AMQP_USER" '.*' '.*' '.*' >/dev/null

settings=(--database-url "$DATABASE_URL" --amqp-url "$AMQP_URL" --log-level warn)
"$MEETGRAPH" migrate "${settings[@]}"
"$MEETGRAPH" seed "${settings[@]}" >/dev/null
TOKEN=$("$MEETGRAPH" token --dev --user alice@example.com "${settings[@]}")
# The seeded meeting "Weekly planning", which alice hosts.
MEETING_ID=$(psql -Atq "$DATABASE_URL" -c "SELECT id FROM meetings WHERE title = 'Weekly planning'")

# One token sends thousands of requests per second here, so the per-user
# rate limit is off. 64 clients need more pool connections than the
# default of 4 on 2 CPUs.
MEETGRAPH_DATABASE_MAX_CONNS=$MAX_CONNS "$MEETGRAPH" "$ROLE" --dev "${settings[@]}" \
	--http-addr 127.0.0.1:18090 --rate-limit 0 2>"$WORK/gateway.log" &
GATEWAY_PID=$!
for _ in $(seq 100); do
	curl -fsS http://127.0.0.1:18090/readyz >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS http://127.0.0.1:18090/readyz >/dev/null || {
	cat "$WORK/gateway.log" >&2
	exit 1
}

echo "| run | load | requests | req/s | p50 | p99 | server CPU/req | SQL/req | failed / dropped |"
echo "|---|---|---|---|---|---|---|---|---|"
for run in $(seq "$RUNS"); do
	"$WORK/meetgraph-load" run -label "requestAnalysis, $ROLE, run $run, load $(cut -d' ' -f1 /proc/loadavg)" \
		-url http://127.0.0.1:18090/query -token "$TOKEN" -query analysis -meeting "$MEETING_ID" \
		-concurrency "$CLIENTS" -pid "$GATEWAY_PID" -duration "$DURATION" -database-url "$DATABASE_URL"
done
