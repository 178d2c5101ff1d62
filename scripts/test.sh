#!/usr/bin/env bash
# The test command: makes sure PostgreSQL answers (starting the local cluster if it is down),
# installs what the tests drive when it is missing — pg_auto_failover (the failover tests start
# a real formation), rsyslog with its Elasticsearch output (the shipper tests run a real
# rsyslogd), Chromium with chromedriver (the console tests drive a real browser), a Python venv
# with OpenTelemetry's SDK and OTLP/HTTP exporter (the OTLP tests export through it), one with
# python-logging-loki (the Loki tests push through it) — then runs every test of the
# workspace, unit and integration, against real databases.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export TEST_DATABASE_URL

pg_up() { pg_isready -q -d "$TEST_DATABASE_URL" 2>/dev/null; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "test.sh: PostgreSQL is down, starting the local cluster" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "test.sh: PostgreSQL unreachable at $TEST_DATABASE_URL (set TEST_DATABASE_URL)" >&2; exit 1; }
fi

# The failover tests (tests/failover) run a real pg_auto_failover formation: install Debian's
# packages when they are missing and this script may (root with apt-get, as in CI).
if ! command -v pg_autoctl >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing pg_auto_failover (postgresql-15-auto-failover, pg-auto-failover-cli)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
      postgresql-15-auto-failover pg-auto-failover-cli >/dev/null
  else
    echo "test.sh: pg_autoctl is missing; install postgresql-15-auto-failover and" \
      "pg-auto-failover-cli (the failover tests need them)" >&2
    exit 1
  fi
fi

# The shipper tests (tests/shipper) run a real rsyslogd with omelasticsearch and send lines with
# logger: install Debian's packages when they are missing, as above. Installing does not need
# the system's rsyslog service; the tests start their own rsyslogd on loopback ports.
if ! dpkg -s rsyslog-elasticsearch >/dev/null 2>&1 || ! command -v logger >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing rsyslog, rsyslog-elasticsearch and bsdutils (logger)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends rsyslog rsyslog-elasticsearch bsdutils >/dev/null
  else
    echo "test.sh: install rsyslog, rsyslog-elasticsearch and bsdutils (the shipper tests" \
      "need rsyslogd with omelasticsearch, and logger)" >&2
    exit 1
  fi
fi

# The console tests (tests/console) drive Debian's Chromium through its WebDriver server,
# chromedriver: install both when missing, as above.
if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing chromium and chromium-driver (the console's browser tests)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
  else
    echo "test.sh: install chromium and chromium-driver (the console's browser tests need" \
      "them)" >&2
    exit 1
  fi
fi

# A venv at $1 with pinned PyPI releases ($4...), made when its python cannot import module $2
# ($3 says which tests need it, for the message when python3-venv is missing).
ensure_venv() {
  local venv=$1 module=$2 purpose=$3
  shift 3
  "$venv/bin/python" -c "import $module" 2>/dev/null && return 0
  echo "test.sh: creating $venv ($*)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" || {
    echo "test.sh: python3 -m venv failed; install python3-venv (the $purpose tests need it)" >&2
    exit 1
  }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
}

# The OTLP tests (tests/otlp) log through OpenTelemetry's Python SDK and its OTLP/HTTP exporter:
# a venv in target/otel-venv (the tests find it there, or at $AGG_OTEL_PYTHON).
ensure_venv target/otel-venv opentelemetry.exporter.otlp.proto.http OTLP \
  opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2

# The Loki tests (tests/loki) log through PyPI's python-logging-loki (LokiHandler, JSON pushes):
# a venv in target/loki-venv (the tests find it there, or at $AGG_LOKI_PYTHON).
ensure_venv target/loki-venv logging_loki Loki python-logging-loki==0.3.1

cargo test --locked --all-targets "$@"
