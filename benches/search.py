#!/usr/bin/env python3
"""One run of the search benchmark: what searching costs and what it is worth, as one table.

Why: a log aggregator's search is worth building only if it beats what an operator would do
without it, grepping an export of the same events, and only if it costs ingest little. So one
run, on one machine, measures both sides on the same realistic events:

1. Events. A seeded generator writes EVENTS (5,000,000; `--events N`) log events as NDJSON to a
   temp file, in timestamp order (as shippers send them): 20 topics, 20 sources (one is
   `checkout`), timestamps uniform over the 24 hours before the run start (RFC 3339, ms, Z), a
   payload of `level` (debug 15 %, info 70 %, warn 10 %, error 5 %), `message` (320 templates of
   zipf-ish frequency, many with variable parts: a head of frequent values and a long tail; one
   template family, ~1 % of events, holds the word `timeout`; ~0.05 % hold the rare word
   `kafkarebalance`), `user_id` (100,000 users, zipf-ish), `latency_ms` (log-normal), `status`
   (mostly 200), `trace_id` (hex) and, for a third of events, `http: {method, path, status}`.
   The generator counts what the queries below must find. The file is both what is published
   and the export `rg` reads.
2. Load. Each store (a scratch PostgreSQL database, then the embedded store in a temp data
   dir) takes the file through `POST /publish` (`application/x-ndjson`, LOAD_LINES lines a
   body, LOAD_SENDERS threads); every event must be new and `/stats` must count them all. On
   PostgreSQL, `VACUUM ANALYZE events` runs (psql) once loaded, before any query, as autovacuum
   would have by then on a live system.
3. Queries, over HTTP (the full response timed), one warm-up then the p50, min and max of
   RUNS runs, on each store (served with `--query-timeout 60s`, so that a slow query gives a
   number; one that still fails prints an error row): a rare word (first page, newest first),
   `level:error AND source:checkout`, the 24 h histogram of `level:error` (5 m buckets), the
   histogram of the ~1 % word `timeout`, and the top 10 `message` values of the last hour.
   Every answer is checked against the generator's counts; the script fails if one differs.
4. The reference: `rg -c` over the export for the same words (for `level:error AND
   source:checkout`, a pattern holding both), page cache warm (one run first), p50 of RG_RUNS
   runs, counts checked too; each query prints rg ms / query ms (above 1: the store answers
   faster than grep reads the export). Skipped with a note when rg is missing.
5. Index cost, on fresh small stores: `aggregator bench ceiling` on a store whose search
   indexes are dropped (the raw ceiling), `aggregator publish` in batches of 1,000 (8
   connections) on a store with them (ratio to the ceiling), and single events (64 connections)
   with and without them (ratio); each row (and each ingest run of step 6) starts after a
   CHECKPOINT and a sync, so that it does not flush what came before. The dropped objects are
   PG_SEARCH_INDEXES and EMBEDDED_SEARCH_DROP below (dropping names that do not exist is a
   no-op). Also the bytes per event of each index of the loaded stores: PostgreSQL's
   `pg_relation_size`, the embedded store's `dbstat` table (or, without it, the file shrinkage
   when the indexes are dropped from a copy; the table says which).
6. Ingest beside heavy queries: on each loaded store (served with `--max-concurrent-queries
   8`), single events (`publish --batch-size 1 --concurrency 64`, INGEST_EVENTS events) p99
   alone, then while QUERY_THREADS threads loop the `timeout` histogram and the 24 h `message`
   values; both p99s, their ratio, and the query threads' answers (429 and 400 counted).

Usage:
  benches/search.py                 full run (5,000,000 events; long: use a release binary)
  benches/search.py --events 500000 another size
  benches/search.py --quick         20,000 events and fewer repeats, seconds: the CI smoke that
                                    keeps the script working (it asserts counts, never speed)

Environment (as benches/run.py, whose helpers this imports):
  BIN                  aggregator binary        [target/release/aggregator]
  BENCH_DATABASE_URL   maintenance database, to create scratch databases (dropped at the end)
                       [postgres://postgres@127.0.0.1:5432/postgres]
  BENCH_RESULTS        append the tables as JSON lines to this file
  RG                   ripgrep binary [rg]; missing, its column and the ratios are skipped
  TMPDIR               where the export (about 280 bytes an event: 1.4 GB for 5,000,000) and
                       the embedded store (about 600 bytes an event) go
"""
import collections
import datetime
import http.client
import itertools
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no benches/__pycache__ left behind by importing run.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (benches/run.py: Server, scratch databases, publish)
from run import BIN, QUICK, psql, publish, scratch_database  # noqa: E402

# The search indexes, dropped for the "no search index" rows, with the upkeep of the event
# volume (PostgreSQL's triggers; the embedded writer's statement reads a view, made empty).
# Names that do not exist yet are no-ops (DROP ... IF EXISTS).
PG_SEARCH_INDEXES = ("events_words_gin", "events_payload_gin", "events_source_ts")
# The embedded store's full-text index is an FTS5 table the writer inserts into: it is swapped
# for a plain table whose inserts a trigger ignores, so commits cost what they would without
# the index. Through writable_schema, because this Python's SQLite may be older than the
# table's options (contentless_delete needs 3.43) and so could not DROP it.
# Two scripts, each on a connection of its own: SQLite rereads the schema edited through
# writable_schema only on a new connection.
EMBEDDED_SEARCH_DROP = ("""
DROP INDEX IF EXISTS events_source_ts;
DROP TRIGGER IF EXISTS events_volume_delete;
DROP VIEW IF EXISTS event_volume_keys;
CREATE VIEW event_volume_keys AS
SELECT seq, 0 AS minute, topic, 0 AS level_kind, '' AS level FROM events WHERE 0;
PRAGMA writable_schema = ON;
DELETE FROM sqlite_master WHERE name = 'events_fts';
PRAGMA writable_schema = OFF;
""", """
DROP TABLE IF EXISTS events_fts_data;
DROP TABLE IF EXISTS events_fts_idx;
DROP TABLE IF EXISTS events_fts_content;
DROP TABLE IF EXISTS events_fts_docsize;
DROP TABLE IF EXISTS events_fts_config;
CREATE TABLE IF NOT EXISTS events_fts (words TEXT);
CREATE TRIGGER IF NOT EXISTS events_fts_ignored BEFORE INSERT ON events_fts
BEGIN SELECT RAISE(IGNORE); END;
""")
# The embedded store's SQLite file in its data dir (src/store/embedded.rs, DATABASE_FILE).
EMBEDDED_DATABASE_FILE = "aggregator.db"

STARTED = time.time()


def progress(what):
    print(f"search.py: {time.time() - STARTED:6.1f} s  {what}", file=sys.stderr, flush=True)


def arg_value(name, default):
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1].replace("_", ""))
    return default


EVENTS = arg_value("--events", 20_000 if QUICK else 5_000_000)
RUNS = 3 if QUICK else 7
RG_RUNS = 3 if QUICK else 5
LOAD_LINES = 5_000
LOAD_SENDERS = 4
QUERY_TIMEOUT = "60s"
QUERY_THREADS = 8
INGEST_EVENTS = 2_000 if QUICK else 30_000
# Index cost rows: events of the ceiling and of each publish (--quick divides them as run.py).
CEILING_EVENTS = 400_000
BATCH_EVENTS = 400_000
SINGLE_EVENTS = 100_000
RG = os.environ.get("RG", "rg")
SEED = 20261207
DAY_MS = 86_400_000
HOUR_MS = 3_600_000

# ---------------------------------------------------------------------------------------------
# The events

TOPICS = ["web.access", "web.errors", "api.orders", "api.payments", "api.users", "api.search",
          "worker.email", "worker.billing", "worker.reports", "db.postgres", "db.redis",
          "queue.kafka", "auth.login", "auth.tokens", "cdn.edge", "mobile.ios", "mobile.android",
          "batch.etl", "infra.k8s", "infra.dns"]
SOURCES = ["web-1", "api-1", "web-2", "checkout", "api-2", "worker-1", "gateway", "web-3",
           "api-3", "worker-2", "scheduler", "auth", "billing", "search", "inventory",
           "notifier", "cron", "edge-eu", "edge-us", "mobile-bff"]
LEVELS = ["debug", "info", "warn", "error"]
LEVEL_WEIGHTS = [15, 70, 10, 5]
STATUSES = [200, 201, 204, 301, 304, 400, 401, 403, 404, 429, 500, 502, 503]
STATUS_WEIGHTS = [85, 3, 2, 1, 2, 2, 1, 0.5, 2.5, 0.3, 0.4, 0.2, 0.1]
METHODS = ["GET", "POST", "PUT", "DELETE"]
METHOD_WEIGHTS = [70, 20, 5, 5]
RESOURCES = ["orders", "users", "carts", "products", "payments", "sessions", "invoices",
             "shipments", "reviews", "coupons"]
COMPONENTS = ["auth", "billing", "cart", "catalog", "checkout", "email", "gateway", "inventory",
              "ledger", "notifier", "orders", "payments", "pricing", "search", "shipping",
              "sessions"]
SERVICES = ["payments-api", "inventory-svc", "pricing-svc", "fraud-check", "tax-service",
            "shipping-rates", "user-profile", "recommendations"]
FIELDS = ["email", "amount", "currency", "sku", "quantity", "address", "country", "zip"]
# Message templates: COMPONENTS x PHRASES, "{x}" a variable part of kind x (VARIABLES below).
PHRASES = [
    "request completed in {n} ms", "cache miss for key {k}", "cache hit", "health check ok",
    "connection pool exhausted, waiting", "retrying request, attempt {a}", "user {u} logged in",
    "user {u} logged out", "processed batch of {b} items", "slow query took {n} ms",
    "config reloaded", "job {j} started", "job {j} finished", "rate limit exceeded for {u}",
    "order {o} created", "payment authorized for order {o}", "invalid input: missing field {f}",
    "disk usage at {p} percent", "gc pause of {n} ms", "worker {w} idle",
]
TIMEOUT_SHARE = 0.01     # the one template family holding the word "timeout"
MARKER = "kafkarebalance"
MARKER_SHARE = 0.0005    # the rare word of the selective query
HTTP_SHARE = 0.35        # events with a nested http object


def build_templates():
    """[(prefix, kind, suffix)], the timeout family then the marker one then the others, and
    their cumulative weights (zipf-ish in a seeded order, the two families at their shares)."""
    rng = random.Random(SEED)
    templates = []
    for component in COMPONENTS:
        for phrase in PHRASES:
            text = f"{component}: {phrase}"
            head, brace, rest = text.partition("{")
            kind, _, tail = rest.partition("}")
            templates.append((head, kind if brace else None, tail))
    for head, _, tail in templates:
        assert "timeout" not in (head + tail).lower() and MARKER not in head + tail
    rng.shuffle(templates)
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(templates))]
    scale = (1 - TIMEOUT_SHARE - MARKER_SHARE) / sum(weights)
    weights = [TIMEOUT_SHARE, MARKER_SHARE] + [w * scale for w in weights]
    templates = [("", "timeout", ""), ("", "marker", "")] + templates
    return templates, list(itertools.accumulate(weights))


TIMEOUT_TEMPLATE, MARKER_TEMPLATE = 0, 1


def variables(rng):
    """Makers of the variable parts of messages, by kind."""
    rand, bits, randrange = rng.random, rng.getrandbits, rng.randrange
    return {
        "n": lambda: str(int(rng.lognormvariate(3.0, 1.1)) + 1),
        "k": lambda: f"{rng.choice(RESOURCES)}:{int(100_000 ** rand())}",
        "a": lambda: str(randrange(1, 6)),
        "u": lambda: f"u-{int(100_000 ** rand()) - 1:06d}",  # zipf-ish too
        "b": lambda: str(randrange(1, 50) * 10),
        "j": lambda: f"{bits(32):08x}",
        "o": lambda: f"o-{randrange(10_000_000):07d}",
        "f": lambda: rng.choice(FIELDS),
        "p": lambda: str(randrange(50, 100)),
        "w": lambda: str(randrange(64)),
        "timeout": lambda: (f"{rng.choice(COMPONENTS)}: upstream timeout calling "
                            f"{rng.choice(SERVICES)} after {randrange(1, 31) * 1000} ms"),
        "marker": lambda: (f"{rng.choice(COMPONENTS)}: consumer group g-{randrange(8)} "
                           f"{MARKER} started, partitions revoked {randrange(64)}"),
    }


class Expected:
    """What the generator knows the queries must find."""

    def __init__(self):
        self.events = 0
        self.error = 0
        self.error_checkout = 0
        self.timeout = 0
        self.marker = 0
        self.last_hour_messages = collections.Counter()


def generate(path, events, start_s):
    """Writes `events` NDJSON events with timestamps in [start_s, start_s + 1 day), in
    timestamp order, to `path`; returns what they hold (Expected)."""
    rng = random.Random(SEED)
    choices, rand, bits = rng.choices, rng.random, rng.getrandbits
    templates, template_cum = build_templates()
    make = variables(rng)
    level_cum = list(itertools.accumulate(LEVEL_WEIGHTS))
    status_cum = list(itertools.accumulate(STATUS_WEIGHTS))
    method_cum = list(itertools.accumulate(METHOD_WEIGHTS))
    source_cum = list(itertools.accumulate(1 / (i + 1) ** 0.8 for i in range(len(SOURCES))))
    latencies = [int(rng.lognormvariate(3.0, 1.0)) + 1 for _ in range(8192)]
    # Users zipf-ish: user k about as often as 1 / (k + 1).
    users = [f"u-{k:06d}" for k in range(100_000)]
    user_cum = list(itertools.accumulate(1 / (k + 1) for k in range(100_000)))
    # "YYYY-MM-DDTHH:MM:SS" of every second of the day.
    seconds = [time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start_s + s)) for s in range(86_400)]
    expected = Expected()
    expected.events = events
    last_hour = DAY_MS - HOUR_MS
    chunk = 50_000
    with open(path, "w", encoding="ascii") as out:
        for first in range(0, events, chunk):
            n = min(chunk, events - first)
            # Each chunk covers its share of the day: uniform overall, in order.
            lo, hi = DAY_MS * first // events, DAY_MS * (first + n) // events
            offsets = sorted(lo + int(rand() * (hi - lo)) for _ in range(n))
            topics = choices(TOPICS, k=n)
            sources = choices(SOURCES, cum_weights=source_cum, k=n)
            levels = choices(LEVELS, cum_weights=level_cum, k=n)
            kinds = choices(range(len(templates)), cum_weights=template_cum, k=n)
            statuses = choices(STATUSES, cum_weights=status_cum, k=n)
            lats = choices(latencies, k=n)
            user_ids = choices(users, cum_weights=user_cum, k=n)
            methods = choices(METHODS, cum_weights=method_cum, k=n)
            resources = choices(RESOURCES, k=n)
            lines = []
            for i in range(n):
                ms = offsets[i]
                head, kind, tail = templates[kinds[i]]
                message = head if kind is None else head + make[kind]() + tail
                level, source, status = levels[i], sources[i], statuses[i]
                if level == "error":
                    expected.error += 1
                    if source == "checkout":
                        expected.error_checkout += 1
                if kinds[i] == TIMEOUT_TEMPLATE:
                    expected.timeout += 1
                elif kinds[i] == MARKER_TEMPLATE:
                    expected.marker += 1
                if ms >= last_hour:
                    expected.last_hour_messages[message] += 1
                if rand() < HTTP_SHARE:
                    nested = (f',"http":{{"method":"{methods[i]}","path":"/api/v2/'
                              f'{resources[i]}/{bits(17)}","status":{status}}}')
                else:
                    nested = ""
                lines.append(
                    f'{{"topic":"{topics[i]}","event_id":"e{first + i}","timestamp":'
                    f'"{seconds[ms // 1000]}.{ms % 1000:03d}Z","source":"{source}","payload":'
                    f'{{"level":"{level}","message":"{message}","user_id":'
                    f'"{user_ids[i]}","latency_ms":{lats[i]},'
                    f'"status":{status},"trace_id":"{bits(64):016x}"{nested}}}}}\n')
            out.write("".join(lines))
    return expected


def rfc3339(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


# ---------------------------------------------------------------------------------------------
# Servers

# Servers of this run still up, stopped when it ends (pass or fail).
SERVERS = []


class Server(run.Server):
    """run.py's server, also stopped (by its PID) when it never gets ready or the run fails."""

    def __init__(self, store_args, log_dir):
        try:
            super().__init__(store_args, log_dir)
        except SystemExit:
            if getattr(self, "proc", None) is not None:
                self.proc.kill()
                self.proc.wait()
            raise
        SERVERS.append(self)

    def stop(self):
        SERVERS.remove(self)
        super().stop()


# ---------------------------------------------------------------------------------------------
# Loading a store through POST /publish


def get_json(url, path, timeout=30):
    """(status, decoded JSON body or the raw text, seconds) of one GET, the full body read."""
    parsed = urllib.parse.urlsplit(url)
    began = time.perf_counter()
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    seconds = time.perf_counter() - began
    try:
        return response.status, json.loads(body), seconds
    except ValueError:
        return response.status, body.decode(errors="replace"), seconds


def stats(url):
    status, body, _ = get_json(url, "/stats")
    if status != 200:
        raise SystemExit(f"GET /stats answered {status}: {body}")
    return body


def load(url, path, events):
    """Publishes the export's lines in NDJSON bodies of LOAD_LINES from LOAD_SENDERS threads;
    checks that every event was new. Returns events/s."""
    parsed = urllib.parse.urlsplit(url)
    lock = threading.Lock()
    new = [0]
    failures = []
    before = stats(url)["unique_processed"]

    def sender(lines):
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
        try:
            while not failures:
                with lock:
                    body = b"".join(itertools.islice(lines, LOAD_LINES))
                if not body:
                    return
                for _ in range(100):
                    connection.request("POST", "/publish", body=body,
                                       headers={"Content-Type": "application/x-ndjson"})
                    response = connection.getresponse()
                    answer = response.read()
                    if response.status in (429, 503):  # busy: retrying is safe
                        time.sleep(float(response.getheader("Retry-After") or 1))
                        continue
                    break
                if response.status != 200:
                    failures.append(f"POST /publish answered {response.status}: {answer[:300]!r}")
                    return
                with lock:
                    new[0] += json.loads(answer)["unique_processed"]
        except Exception as err:  # noqa: BLE001 (reported below, the run fails)
            failures.append(f"sender: {err!r}")
        finally:
            connection.close()

    began = time.perf_counter()
    with open(path, "rb") as lines:
        threads = [threading.Thread(target=sender, args=(lines,)) for _ in range(LOAD_SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise SystemExit(f"loading {url} failed: {failures[0]}")
    stored = stats(url)["unique_processed"] - before
    if new[0] != events or stored != events:
        raise SystemExit(f"loading {url}: {events} events sent, {new[0]} answered new, "
                         f"{stored} counted by /stats")
    return events / elapsed, elapsed


# ---------------------------------------------------------------------------------------------
# The queries


def check(condition, what):
    if not condition:
        raise SystemExit(f"search.py: wrong answer: {what}")


def queries(expected, since, until):
    """[(name, path, check(body), rg pattern key)] of the timed queries."""
    day = {"since": rfc3339(since), "until": rfc3339(until)}
    hour = {"since": rfc3339(until - 3600), "until": rfc3339(until)}

    def page(want, predicate, what):
        def check_page(body):
            events = body["events"]
            check(body["count"] == len(events) == min(100, want),
                  f"{what}: {body['count']} events on the first page, expected {min(100, want)}")
            check(all(predicate(e) for e in events), f"{what}: an event that does not match")
            stamps = [datetime.datetime.fromisoformat(e["timestamp"]) for e in events]
            check(stamps == sorted(stamps, reverse=True), f"{what}: not newest first")
        return check_page

    def total(want, what, buckets):
        def check_total(body):
            check(body["total"] == want, f"{what}: total {body['total']}, expected {want}")
            check(sum(b["count"] for b in body["buckets"]) == want,
                  f"{what}: the buckets do not add up to {want}")
            check(buckets is None or len(body["buckets"]) == buckets,
                  f"{what}: {len(body['buckets'])} buckets, expected {buckets}")
        return check_total

    # The server ranks ties by value, in byte order (ASCII here: Python's order).
    top = sorted(expected.last_hour_messages.items(), key=lambda kv: (-kv[1], kv[0]))[:10]

    def check_values(body):
        got = [(v["value"], v["count"]) for v in body["values"]]
        check(got == top, f"message values of the last hour: {got[:3]}..., expected {top[:3]}...")

    return [
        (f"q={MARKER} limit=100", "/events?" + urllib.parse.urlencode({"q": MARKER, "limit": 100}),
         page(expected.marker, lambda e: MARKER in e["payload"]["message"], MARKER), "marker"),
        ("q=level:error AND source:checkout",
         "/events?" + urllib.parse.urlencode({"q": "level:error AND source:checkout", "limit": 100}),
         page(expected.error_checkout,
              lambda e: e["payload"]["level"] == "error" and e["source"] == "checkout",
              "level:error AND source:checkout"), "checkout_error"),
        ("count level:error 24h 5m",
         "/events/count?" + urllib.parse.urlencode({"q": "level:error", **day, "interval": "5m"}),
         # Buckets are aligned on multiples of 5 m since the epoch: the first and last partial.
         total(expected.error, "count level:error", (until - 1) // 300 - since // 300 + 1),
         "error"),
        ("count timeout 24h auto",
         "/events/count?" + urllib.parse.urlencode({"q": "timeout", **day, "interval": "auto"}),
         total(expected.timeout, "count timeout", None), "timeout"),
        ("values message 1h top 10",
         "/events/values?" + urllib.parse.urlencode({"field": "message", "limit": 10, **hour}),
         check_values, None),
    ]


def heavy_queries(since, until):
    """The paths the query threads of step 6 loop over."""
    day = {"since": rfc3339(since), "until": rfc3339(until)}
    return ["/events/count?" + urllib.parse.urlencode({"q": "timeout", **day}),
            "/events/values?" + urllib.parse.urlencode({"field": "message", "limit": 10, **day})]


def time_queries(url, specs):
    """{name: {p50_ms, min_ms, max_ms} or {error}}: one warm-up, then RUNS runs, each answer
    checked."""
    results = {}
    for name, path, check_body, _ in specs:
        times = []
        for attempt in range(RUNS + 1):
            status, body, seconds = get_json(url, path, timeout=300)
            if status != 200:
                reason = body.get("error", body) if isinstance(body, dict) else body
                results[name] = {"error": f"HTTP {status}: {str(reason)[:80]}"}
                progress(f"{name} on {url}: HTTP {status}: {body}")
                break
            check_body(body)
            if attempt:
                times.append(seconds * 1000)
        else:
            results[name] = {"p50_ms": statistics.median(times), "min_ms": min(times),
                             "max_ms": max(times)}
    return results


# ---------------------------------------------------------------------------------------------
# rg over the export

# What rg counts for each query (a line is an event; source comes before payload on a line).
RG_PATTERNS = {"marker": [MARKER], "checkout_error": ['"source":"checkout".*"level":"error"'],
               "error": ['"level":"error"'], "timeout": ["-i", "timeout"]}


def rg_reference(path, expected):
    """{key: (command, p50 ms)} of `rg -c`, page cache warm; None when rg is missing."""
    if shutil.which(RG) is None:
        print(f"search.py: {RG} not found: no rg column, no ratios (apt-get install -y ripgrep)",
              file=sys.stderr)
        return None
    want = {"marker": expected.marker, "checkout_error": expected.error_checkout,
            "error": expected.error, "timeout": expected.timeout}
    results = {}
    for key, pattern in RG_PATTERNS.items():
        times = []
        for attempt in range(RG_RUNS + 1):
            began = time.perf_counter()
            done = subprocess.run([RG, "-c", *pattern, path], capture_output=True, text=True)
            seconds = time.perf_counter() - began
            count = int(done.stdout.strip() or 0)
            check(count == want[key], f"rg -c {' '.join(pattern)}: {count}, expected {want[key]}")
            if attempt:
                times.append(seconds * 1000)
        results[key] = ("rg -c " + " ".join(f"'{p}'" if '"' in p else p for p in pattern),
                        statistics.median(times))
    return results


# ---------------------------------------------------------------------------------------------
# Stores

# Embedded data dirs of this run, removed when it ends (pass or fail).
DATA_DIRS = []


def fresh_store(kind):
    """Server arguments of a new empty store: a scratch database or a temp data dir."""
    if kind == "pg":
        return ["--database-url", scratch_database()[1]]
    data_dir = tempfile.mkdtemp(prefix="aggsearch-data-")
    DATA_DIRS.append(data_dir)
    return ["--data-dir", data_dir]


def discard_store(store_args):
    """Frees a store's disk now rather than at the end of the run."""
    flag, where = store_args[:2]
    if flag == "--data-dir":
        shutil.rmtree(where, ignore_errors=True)
        DATA_DIRS.remove(where)
    else:
        name = urllib.parse.urlsplit(where).path.lstrip("/")
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        run.SCRATCH.remove(name)


def psql_rows(sql, url):
    done = subprocess.run(["psql", "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", url,
                           "-c", sql], capture_output=True, text=True, check=True)
    return [line.split("\t") for line in done.stdout.splitlines() if line]


def drop_search_indexes(store_args, log_dir):
    """Migrates the store (a server started and stopped), then drops its search indexes."""
    Server(store_args, log_dir).stop()
    flag, where = store_args[:2]
    if flag == "--database-url":
        # The store builds missing search indexes at every start (postgres/indexes.rs): each
        # is replaced by an empty partial index of the same name, which it takes as built and
        # which costs a commit one constant predicate.
        psql("SET client_min_messages = warning; "
             "DROP TRIGGER IF EXISTS events_volume_added ON events; "
             "DROP TRIGGER IF EXISTS events_volume_removed ON events; "
             f"DROP INDEX IF EXISTS {', '.join(PG_SEARCH_INDEXES)}; "
             + "".join(f"CREATE INDEX {name} ON events (seq) WHERE false; "
                       for name in PG_SEARCH_INDEXES), where)
    else:
        for script in EMBEDDED_SEARCH_DROP:
            db = sqlite3.connect(os.path.join(where, EMBEDDED_DATABASE_FILE))
            db.executescript(script)
            db.close()


def index_sizes(kind, store_args):
    """[(object, bytes, rows, method)] of the indexes of `events` (and, for context, the table
    itself); on the embedded store, read while no server runs."""
    flag, where = store_args[:2]
    if kind == "pg":
        rows = int(psql_rows("SELECT count(*) FROM events", where)[0][0])
        sizes = psql_rows("SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i "
                          "JOIN pg_class c ON c.oid = i.indexrelid "
                          "WHERE i.indrelid = 'events'::regclass ORDER BY 2 DESC", where)
        table = psql_rows("SELECT pg_table_size('events')", where)[0][0]
        return ([(name, int(size), rows, "pg_relation_size") for name, size in sizes]
                + [("(table events, TOAST included)", int(table), rows, "pg_table_size")])
    path = os.path.join(where, EMBEDDED_DATABASE_FILE)
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT count(*) FROM events").fetchone()[0]
        indexes = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE (type = 'index' AND tbl_name = 'events') "
            "OR name LIKE 'events\\_fts%' ESCAPE '\\'")]
        try:
            pages = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
        except sqlite3.OperationalError:  # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
            pages = None
    finally:
        db.close()
    if pages is not None:
        return (sorted(((name, pages.get(name, 0), rows, "dbstat") for name in indexes),
                       key=lambda row: -row[1])
                + [("(table events)", pages.get("events", 0), rows, "dbstat")])
    # No dbstat: how much a copy shrinks once its indexes are dropped (VACUUM).
    copy = path + ".sizes"
    source, target = sqlite3.connect(path), sqlite3.connect(copy)
    try:
        source.backup(target)
        target.execute("VACUUM")
        whole = os.path.getsize(copy)
        for script in EMBEDDED_SEARCH_DROP:
            target.close()
            target = sqlite3.connect(copy)
            target.executescript(script)
        for (name,) in target.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                      "AND tbl_name = 'events' AND sql IS NOT NULL").fetchall():
            target.execute(f'DROP INDEX "{name}"')
        target.execute("VACUUM")
        return [("(every index but UNIQUE ones)", whole - os.path.getsize(copy), rows,
                 "file size difference")]
    finally:
        source.close()
        target.close()
        os.remove(copy)


def ceiling(store_args, events):
    cmd = [BIN, "bench", "ceiling", *store_args, "--events", str(events), "--batch-size", "1000",
           "--connections", "4", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"ceiling failed ({done.returncode}): {' '.join(cmd)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def settle():
    """Lets the previous row's writes reach the disk before the next row is timed: a CHECKPOINT
    (best effort: it needs a superuser or pg_checkpoint) and a sync."""
    try:
        psql("CHECKPOINT")
    except subprocess.CalledProcessError:
        pass
    os.sync()


def seed():
    return int(time.time() * 1000) % 2**31


SINGLE = ["--batch-size", "1", "--concurrency", "64"]
BATCH = ["--batch-size", "1000", "--concurrency", "8"]


def publish_row(name, store_args, args, events, log_dir):
    server = Server(store_args, log_dir)
    try:
        report, _ = publish(server.url, args, events, seed())
    finally:
        server.stop()
    if not report["verified"]:
        raise SystemExit(f"{name}: the publisher could not verify the server's counts")
    return {"section": "index cost", "row": name, "events": events,
            "events_per_second": report["events_per_second"],
            "p50_ms": report["latency_ms"]["p50"], "p99_ms": report["latency_ms"]["p99"]}


def index_cost(kind, log_dir):
    """The ceiling without search indexes, batches with them, single events with and without."""
    label = "pg" if kind == "pg" else "emb"
    store = fresh_store(kind)
    drop_search_indexes(store, log_dir)
    events = run.scaled(CEILING_EVENTS)
    settle()
    report = ceiling(store, events)
    discard_store(store)
    ceiling_row = {"section": "index cost", "row": f"ceiling {label}, no search index",
                   "events": events, "events_per_second": report["events_per_second"],
                   "p50_ms": None, "p99_ms": None, "x_ceiling": 1.0}
    rows = [ceiling_row]
    for name, args, events, indexed in [
            (f"batch1000 c8 {label}", BATCH, BATCH_EVENTS, True),
            (f"single c64 {label}", SINGLE, SINGLE_EVENTS, True),
            (f"single c64 {label}, no search index", SINGLE, SINGLE_EVENTS, False)]:
        store = fresh_store(kind)
        if not indexed:
            drop_search_indexes(store, log_dir)
        settle()
        row = publish_row(name, store, args, run.scaled(events), log_dir)
        discard_store(store)
        row["x_ceiling"] = row["events_per_second"] / ceiling_row["events_per_second"]
        rows.append(row)
    rows[2]["x_no_index"] = rows[2]["events_per_second"] / rows[3]["events_per_second"]
    return rows


# ---------------------------------------------------------------------------------------------
# Ingest beside heavy queries


def ingest_beside_queries(label, url, paths):
    """p99 of single events alone, then while QUERY_THREADS threads loop `paths`."""
    settle()
    alone, _ = publish(url, SINGLE, INGEST_EVENTS, seed())
    answers = collections.Counter()
    lock = threading.Lock()
    done = threading.Event()

    def querier(i):
        for path in itertools.cycle(paths[i % len(paths):] + paths[:i % len(paths)]):
            if done.is_set():
                return
            try:
                status = get_json(url, path, timeout=300)[0]
            except OSError:
                status = "no answer"
            with lock:
                answers[status] += 1

    threads = [threading.Thread(target=querier, args=(i,)) for i in range(QUERY_THREADS)]
    for thread in threads:
        thread.start()
    time.sleep(1)  # the queries under way before the first event
    try:
        beside, _ = publish(url, SINGLE, INGEST_EVENTS, seed())
    finally:
        done.set()
        for thread in threads:
            thread.join()
    for report in (alone, beside):
        if not report["verified"]:
            raise SystemExit(f"ingest beside queries {label}: the publisher could not verify")
    return {"section": "ingest beside queries", "row": label, "events": INGEST_EVENTS,
            "p99_alone_ms": alone["latency_ms"]["p99"],
            "p99_queries_ms": beside["latency_ms"]["p99"],
            "ratio": beside["latency_ms"]["p99"] / alone["latency_ms"]["p99"],
            "events_per_second_alone": alone["events_per_second"],
            "events_per_second_queries": beside["events_per_second"],
            "queries_200": answers[200], "queries_429": answers[429], "queries_400": answers[400],
            "queries_other": sum(n for status, n in answers.items() if status not in (200, 429, 400)),
            "other_answers": ", ".join(f"{status} x{n}" for status, n in sorted(
                answers.items(), key=str) if status not in (200, 429, 400))}


# ---------------------------------------------------------------------------------------------
# The run


def fmt(value, spec):
    """A figure in its column's width, "-" when missing."""
    return format(value, spec) if value is not None else format("-", spec.split(".")[0].rstrip(","))


def main(log_dir, export):
    began = time.time()
    until = int(began)
    since = until - 86_400
    progress(f"generating {EVENTS:,} events into {export}")
    expected = generate(export, EVENTS, since)
    generated = time.time() - began
    specs = queries(expected, since, until)
    rows, timings, sizes, beside = [], {}, [], []
    for kind, label in (("pg", "postgres"), ("embedded", "embedded")):
        store = fresh_store(kind)
        server = Server(store + ["--query-timeout", QUERY_TIMEOUT,
                                 "--max-concurrent-queries", str(QUERY_THREADS)], log_dir)
        try:
            progress(f"loading {label}")
            rate, elapsed = load(server.url, export, EVENTS)
            rows.append({"section": "load", "row": label, "events": EVENTS,
                         "events_per_second": rate, "elapsed_s": elapsed})
            if kind == "pg":
                psql("VACUUM ANALYZE events", store[1])
                sizes += [(label, *size) for size in index_sizes(kind, store)]
            progress(f"querying {label}")
            timings[label] = time_queries(server.url, specs)
            progress(f"ingest beside queries, {label}")
            beside.append(ingest_beside_queries(label, server.url, heavy_queries(since, until)))
        finally:
            server.stop()
        if kind == "embedded":
            sizes += [(label, *size) for size in index_sizes(kind, store)]
        discard_store(store)
    progress("rg")
    rg = rg_reference(export, expected)
    progress("index cost rows")
    cost = index_cost("pg", log_dir) + index_cost("embedded", log_dir)
    wall = time.time() - began

    size_mib = os.path.getsize(export) / 2**20
    print(f"\nsearch benchmark: {EVENTS:,} events ({size_mib:.1f} MiB of NDJSON, generated in "
          f"{generated:.1f} s), {BIN}, wall {wall:.0f} s")
    print(f"\n{'load: POST /publish, x-ndjson':<40} {'events/s':>10} {'wall s':>8}")
    for row in rows:
        print(f"{row['row']:<40} {row['events_per_second']:>10,.0f} {row['elapsed_s']:>8.1f}")

    print(f"\n{f'query (ms; p50 min max of {RUNS})':<34} {'pg p50':>8} {'min':>7} {'max':>7} "
          f"{'emb p50':>8} {'min':>7} {'max':>7} {'rg ms':>7} {'rg/pg':>7} {'rg/emb':>7}")
    errors = []
    for name, _, _, rg_key in specs:
        cells, row = [], {"section": "query", "row": name}
        for label in ("postgres", "embedded"):
            result = timings[label][name]
            if "error" in result:
                errors.append(f"{name} on {label}: {result['error']}")
                cells += [format("error", ">8"), format("-", ">7"), format("-", ">7")]
            else:
                cells += [format(result["p50_ms"], ">8.1f"), format(result["min_ms"], ">7.1f"),
                          format(result["max_ms"], ">7.1f")]
            row[label] = result
        rg_ms = rg[rg_key][1] if rg is not None and rg_key is not None else None
        ratios = [rg_ms / timings[label][name]["p50_ms"]
                  if rg_ms is not None and "p50_ms" in timings[label][name] else None
                  for label in ("postgres", "embedded")]
        row.update(rg_ms=rg_ms, rg_over_pg=ratios[0], rg_over_embedded=ratios[1],
                   rg=rg[rg_key][0] if rg is not None and rg_key is not None else None)
        rows.append(row)
        print(f"{name:<34} {' '.join(cells)} {fmt(rg_ms, '>7.1f')} {fmt(ratios[0], '>7.2f')} "
              f"{fmt(ratios[1], '>7.2f')}")
    for error in errors:
        print(f"  error: {error}")
    if rg is not None:
        print(f"  rg ms: p50 of {RG_RUNS}, page cache warm, of "
              + ", ".join(command for command, _ in rg.values()))

    print(f"\n{'index size after the load':<44} {'MiB':>9} {'bytes/event':>12}  method")
    for label, name, size, count, method in sizes:
        print(f"{label + ' ' + name:<44} {size / 2**20:>9.1f} {size / count:>12.1f}  {method}")
        rows.append({"section": "index size", "row": f"{label} {name}", "bytes": size,
                     "events": count, "bytes_per_event": size / count, "method": method})

    print(f"\n{'index cost (fresh stores)':<36} {'events':>8} {'events/s':>10} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'x ceiling':>9} {'x no index':>10}")
    for row in cost:
        print(f"{row['row']:<36} {row['events']:>8} {row['events_per_second']:>10,.0f} "
              f"{fmt(row['p50_ms'], '>8.2f')} {fmt(row['p99_ms'], '>8.2f')} "
              f"{fmt(row['x_ceiling'], '>9.2f')} {fmt(row.get('x_no_index'), '>10.2f')}")
    rows += cost

    print(f"\n{f'single c64 beside {QUERY_THREADS} query loops':<32} {'events':>7} "
          f"{'p99 alone':>10} {'p99 beside':>10} {'ratio':>6} {'ev/s alone':>10} "
          f"{'ev/s beside':>11} {'q 200':>6} {'q 429':>6} {'q 400':>6} {'q other':>7}")
    for row in beside:
        print(f"{row['row']:<32} {row['events']:>7} {row['p99_alone_ms']:>10.2f} "
              f"{row['p99_queries_ms']:>10.2f} {row['ratio']:>6.2f} "
              f"{row['events_per_second_alone']:>10,.0f} {row['events_per_second_queries']:>11,.0f} "
              f"{row['queries_200']:>6} {row['queries_429']:>6} {row['queries_400']:>6} "
              f"{row['queries_other']:>7}")
    for row in beside:
        if row["other_answers"]:
            print(f"  {row['row']}: the other answers were {row['other_answers']}")
    rows += beside

    if os.environ.get("BENCH_RESULTS"):
        with open(os.environ["BENCH_RESULTS"], "a") as f:
            for row in rows:
                f.write(json.dumps({"bench": "search", "total_events": EVENTS, **row}) + "\n")


if __name__ == "__main__":
    log_dir = tempfile.mkdtemp(prefix="aggsearch-logs-")
    work_dir = tempfile.mkdtemp(prefix="aggsearch-")
    passed = False
    try:
        main(log_dir, os.path.join(work_dir, "events.ndjson"))
        passed = True
    finally:
        for server in list(SERVERS):
            server.stop()
        run.drop_scratch_databases()
        for data_dir in DATA_DIRS:
            shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(work_dir, ignore_errors=True)
        if passed:
            shutil.rmtree(log_dir, ignore_errors=True)
        else:
            progress(f"server logs kept in {log_dir}")
