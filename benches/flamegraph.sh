#!/usr/bin/env bash
# A flame graph of the server while it takes single-event publishes (issue 14): where the CPU of
# one request goes. Starts a release server on a scratch PostgreSQL database (or the embedded
# store with STORE=embedded), records it with `perf record --call-graph dwarf` while
# `aggregator publish --batch-size 1 --concurrency 64` runs, and folds the stacks into an SVG
# with inferno (`cargo install inferno`).
#
#   benches/flamegraph.sh benches/flamegraphs/single-pg.svg
#
# SERVE_ARGS adds flags to `aggregator serve`, split on white space (empty by default), e.g. to
# record a setting other than the defaults:
#
#   SERVE_ARGS="--shards 4 --batch-linger 2ms" benches/flamegraph.sh benches/flamegraphs/x.svg
#
# Needs perf (Debian's linux-perf) and inferno-collapse-perf / inferno-flamegraph on PATH.
# Loopback only; the server and the scratch database are removed when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:?usage: benches/flamegraph.sh OUT.svg}
BIN=${BIN:-target/release/aggregator}
EVENTS=${EVENTS:-60000}
STORE=${STORE:-postgres}
read -r -a EXTRA_ARGS <<<"${SERVE_ARGS:-}"
MAINTENANCE=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
for tool in perf inferno-collapse-perf inferno-flamegraph; do
  command -v "$tool" >/dev/null || { echo "flamegraph.sh: $tool is missing" >&2; exit 1; }
done

WORK=$(mktemp -d)
SERVER_PID=
DATABASE=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "$DATABASE" ] && psql -q -X "$MAINTENANCE" -c "DROP DATABASE IF EXISTS \"$DATABASE\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ "$STORE" = embedded ]; then
  STORE_ARGS=(--data-dir "$WORK/data")
else
  DATABASE="flame_$(date +%s)_$$"
  psql -q -X "$MAINTENANCE" -c "CREATE DATABASE \"$DATABASE\""
  STORE_ARGS=(--database-url "${MAINTENANCE%/*}/$DATABASE")
fi
RUST_LOG=warn "$BIN" serve --bind "127.0.0.1:$PORT" "${STORE_ARGS[@]}" \
  "${EXTRA_ARGS[@]}" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
  sleep 0.1
done

# Warm up (connections, caches), then record the measured run only.
"$BIN" publish --url "http://127.0.0.1:$PORT" --events 5000 --batch-size 1 --concurrency 64 \
  --no-verify >/dev/null
perf record -q -F 199 --call-graph dwarf,16384 -p "$SERVER_PID" -o "$WORK/perf.data" &
PERF_PID=$!
sleep 0.5
"$BIN" publish --url "http://127.0.0.1:$PORT" --events "$EVENTS" --batch-size 1 --concurrency 64 \
  --no-verify
kill -INT "$PERF_PID"
wait "$PERF_PID" || true
perf script -i "$WORK/perf.data" 2>/dev/null | inferno-collapse-perf >"$WORK/stacks.folded"
# The ten functions holding the CPU most often (self time), as a summary beside the picture
# (sed, not head, reads all of sort's output: head would end the pipeline with SIGPIPE).
awk '{n=$NF; $NF=""; k=split($0,f,";"); gsub(/ +$/,"",f[k]); self[f[k]]+=n; all+=n} END {for (s in self) printf "%5.1f%%  %s\n", 100*self[s]/all, s}' "$WORK/stacks.folded" | sort -rn | sed -n 1,10p
inferno-flamegraph <"$WORK/stacks.folded" \
  --minwidth 0.25 --title "aggregator serve ${SERVE_ARGS:-(defaults)}: single-event publishes, 64 connections, $STORE" >"$OUT"
echo "flamegraph.sh: wrote $OUT"
