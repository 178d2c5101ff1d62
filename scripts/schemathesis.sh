#!/usr/bin/env bash
# Contract check: schemathesis fuzzes every operation of /openapi.json against the real server,
# once on the embedded store and once on a fresh PostgreSQL database, and fails on any answer
# that the document does not allow (or any input the document allows that the server refuses).
#
# Needs python3 with the venv module and a reachable PostgreSQL (TEST_DATABASE_URL, as for
# scripts/test.sh). Schemathesis is installed with pip into target/schemathesis-venv, reused
# on later runs. Builds the debug binary. Runs non-interactively (CI=true, no stdin).
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so that a new schemathesis release cannot turn CI red (or green) on its own.
SCHEMATHESIS_VERSION=4.32.5
# Examples per operation and phase: about 20 s for both stores on two cores (300: about 70 s).
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}
# A fixed seed by default, so that CI is reproducible (a red run is a real change, not a new
# random input); SCHEMATHESIS_SEED=random explores new inputs, and a failure then prints the
# seed and a curl line that reproduce it.
SEED=${SCHEMATHESIS_SEED:-20261202}
SEED_ARGS=()
if [ "$SEED" != "random" ]; then
  SEED_ARGS=(--seed "$SEED")
fi
TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
ROOT=$(pwd)
VENV=target/schemathesis-venv
BIN=target/debug/aggregator

# Every check that applies to this API. Left out: use_after_free and
# ensure_resource_availability (they follow OpenAPI links from a creating operation to one that
# deletes what it created; the only deletion here, DELETE /topics/{topic}, purges events that
# POST /publish stored, with no link between them: tests/api/purge.rs covers it) and object_level_authorization (keys grant topics, not objects; the
# route x key tests in tests/api/auth_matrix.rs cover them). The servers run with a keys file
# and schemathesis sends a key with every scope; ignored_auth checks that each operation the
# document declares as needing a key refuses requests without one, or with a wrong one.
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,ignored_auth
CHECKS+=,response_headers_conformance,response_schema_conformance
CHECKS+=,positive_data_acceptance,negative_data_rejection
CHECKS+=,missing_required_header,unsupported_method,allow_header_conformance

log() { printf 'schemathesis.sh: %s\n' "$*" >&2; }

install_schemathesis() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || {
      log "python3 -m venv failed (on Debian: apt-get install -y python3-venv)"
      exit 1
    }
  fi
  if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
}

WORK=$(mktemp -d)
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
DATABASE=
cleanup() {
  stop_server
  rm -rf "$WORK"
  if [ -n "$DATABASE" ]; then
    psql -q "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$DATABASE\"" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# Starts the server on a port the kernel picks (no race with another process over a "free"
# port) and sets ADDRESS to the address it logged once ready. Not run in a subshell, so that
# SERVER_PID stays known and the server is stopped by its own PID.
start_server() {
  local name=$1
  shift
  "$BIN" serve --bind 127.0.0.1:0 --log-format json "$@" >"$WORK/$name.log" 2>&1 </dev/null &
  SERVER_PID=$!
  ADDRESS=
  for _ in $(seq 1 100); do
    ADDRESS=$(sed -n 's/.*"message":"aggregator ready","address":"\([0-9.:]*\)".*/\1/p' \
      "$WORK/$name.log" | head -n1)
    [ -n "$ADDRESS" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$ADDRESS" ]; then
    log "the $name server did not start:"
    cat "$WORK/$name.log" >&2
    exit 1
  fi
}

# Runs schemathesis against the server at $2; prints its summary line; returns its status.
# GET /events/stream is left out: a live tail never ends, so a fuzzer would wait on its first
# 200 forever; tests/api/stream.rs covers its parameters and answers. The bulk API (/_bulk,
# /{index}/_bulk) is left out too: its body is pairs of NDJSON lines, which no JSON Schema can
# state, so every generated "valid" body would be refused and fail positive_data_acceptance;
# tests/api/bulk.rs, src/http/bulk/parse/tests.rs and tests/shipper (a real rsyslog) cover it.
# OTLP (/v1/logs) and Loki (/loki/api/v1/push) are left out for the same reason: their bodies
# are protobuf messages (Loki's snappy-compressed), and their JSON forms are documented as free
# objects rather than restated; tests/api/otlp.rs, tests/api/loki.rs, the mapping unit tests and
# the real clients (tests/otlp: the OpenTelemetry SDK; tests/loki) cover them.
fuzz() {
  local name=$1 address=$2 status=0
  (
    # Its report directory and example database go to the scratch dir, not the repository.
    # The hooks (scripts/schemathesis_hooks.py) write NDJSON bodies of POST /publish.
    cd "$WORK"
    PYTHONPATH="$ROOT/scripts" SCHEMATHESIS_HOOKS=schemathesis_hooks \
    "$ROOT/$VENV/bin/schemathesis" run "http://$address/openapi.json" \
      --checks "$CHECKS" \
      --header "Authorization: Bearer $API_KEY" \
      --exclude-path /events/stream \
      --exclude-path-regex '_bulk$' \
      --exclude-path /v1/logs \
      --exclude-path /loki/api/v1/push \
      --max-examples "$MAX_EXAMPLES" \
      "${SEED_ARGS[@]}" \
      --generation-database none \
      --no-color
  ) >"$WORK/$name.out" 2>&1 </dev/null || status=$?
  if [ "$status" -ne 0 ]; then
    cat "$WORK/$name.out"
  fi
  printf '%-9s %s\n' "$name:" "$(grep -E '^=+ .* in [0-9.]+s =+$' "$WORK/$name.out" | tail -n1)"
  return "$status"
}

install_schemathesis
cargo build --locked --quiet --bin aggregator

failed=0

# One key with every scope, in a keys file of this run only (the key never leaves $WORK).
API_KEY=$("$BIN" keys add schemathesis --scopes publish,read,admin --keys-file "$WORK/keys.toml" 2>/dev/null)
KEYS=(--keys-file "$WORK/keys.toml")

mkdir "$WORK/data"
start_server embedded --data-dir "$WORK/data" "${KEYS[@]}"
fuzz embedded "$ADDRESS" || failed=1
stop_server

DATABASE="schemathesis_$(date +%s)_$$"
psql -q "$TEST_DATABASE_URL" -c "CREATE DATABASE \"$DATABASE\""
start_server postgres --database-url "${TEST_DATABASE_URL%/*}/$DATABASE" "${KEYS[@]}"
fuzz postgres "$ADDRESS" || failed=1
stop_server

if [ "$failed" -ne 0 ]; then
  log "schemathesis found failures (see above)"
fi
exit "$failed"
