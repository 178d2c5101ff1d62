#!/usr/bin/env python3
"""The three shipper protocols against each other, in one run, as one table.

Why: the issue's target is that an OpenTelemetry exporter (`POST /v1/logs`, OTLP/HTTP
protobuf) and a Loki client (`POST /loki/api/v1/push`, snappy-compressed protobuf) each get at
least 0.8 x the events/s of `POST /_bulk` carrying the same records: the three are the same
work for the store (one batch of events a request), so what differs is the server's decoding
and mapping, which this measures without a shipper's own costs in the way.

What runs:

1. Records. A seeded generator makes RECORDS records (200,000; `--quick` 3,000; `--records N`)
   over 10 topics, each topic with 3 hosts, each record a ~200-byte JSON document (`@timestamp`,
   `host`, `level`, `message`) with a stable id and its own millisecond. 20 % of the records
   sent are re-sends of earlier ones (by turns from the same request, a recent one or any
   earlier one, as `aggregator publish`'s workloads do), byte-identical to the original.
2. Bodies, encoded before anything is timed: the records in requests of BATCH (1,000), each
   request in the three encodings, carrying the same records:
   - `_bulk`: NDJSON, `{"index":{"_index":topic,"_id":id}}` then the document;
   - OTLP: an `ExportLogsServiceRequest` (opentelemetry-proto's classes) with one ResourceLogs
     per topic and host of the request (`service.name` = topic, `host.name` = host: a resource
     is one process, so one host), records with `log.record.uid` = id, `time_unix_nano`,
     `severity_text`/`severity_number` and the message as a string body;
   - Loki: a `PushRequest` of push.proto, hand-encoded (four tiny messages), one stream per
     topic and host (labels `{host="..", service_name=".."}`), the line the document's JSON
     text, the time the record's, snappy-compressed (block format, cramjam). Loki's id is the
     server's digest of labels, time and line, which a re-send repeats exactly.
3. Runs. Each protocol against a freshly started server (`serve --database-url` on a fresh
   scratch PostgreSQL database, after a CHECKPOINT (not with `--quick`) so that one run does
   not flush the last one's pages; ready on `/ready`; stopped by its PID afterwards), the requests sent by
   CONNECTIONS (8) keep-alive connections (threads with http.client) taking the next request
   in order. A 429 or 503 (or, on `_bulk`, an answer cut short, which is how it says 429/503)
   is retried after 50 ms, and counted. Measured: events/s (records sent, re-sends included,
   over the wall clock from the first send to the last answer), request latency p50/p99, and
   the server's CPU seconds (/proc/PID/stat) per event; PostgreSQL's and this client's CPU
   per event beside it, to show where the two cores go.
4. Checks, which fail the script: every answer is the protocol's success (`_bulk` 200 without
   `errors`, OTLP 200 without rejected records, Loki 204); `GET /stats` then counts
   `received` = records sent, `unique_processed` = distinct records and `duplicate_dropped`
   = re-sends; and a spot check reads the first record back (`GET /events` by its topic and
   time: one event, its source, its time, its message, and its id for `_bulk` and OTLP).
5. The three protocols run in interleaved order, rotated each repeat, REPEATS times (3;
   `--quick` 1): the table prints events/s per repeat and the median, latency, CPU per event,
   and the ratio of OTLP and Loki to `_bulk` of the same repeat, per repeat and its median,
   with PASS/MISS against the 0.8 x target in the notes. The script asserts counts, never speed.

The encoders need `protobuf`, `opentelemetry-proto` and `cramjam`: the script makes a venv
for them once at target/bench-venv (pinned releases from PyPI; remade when the pins change)
and runs itself again under it.

Usage:
  benches/shippers.py                   full run (a few minutes; use a release binary)
  benches/shippers.py --quick           seconds: the CI smoke that keeps the script working
  benches/shippers.py --records 500000  another size;  --repeats 5  more repeats

Environment (as benches/run.py, whose helpers this imports):
  BIN                  aggregator binary        [target/release/aggregator]
  BENCH_DATABASE_URL   maintenance database, to create scratch databases (dropped at the end)
                       [postgres://postgres@127.0.0.1:5432/postgres]
  BENCH_RESULTS        append the rows as JSON lines to this file
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "target", "bench-venv")
# The encoders' releases (the same protobuf and opentelemetry-proto as the OTLP tests' venv).
PINS = ["protobuf==7.36.2", "opentelemetry-proto==1.45.2", "cramjam==2.14.0"]


def in_venv():
    """Runs the script again under target/bench-venv, made (or remade) first when its pins are
    not those above. Returns only when already running under it."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    marker = os.path.join(VENV, "pins.txt")
    try:
        with open(marker) as f:
            ready = f.read().split() == PINS and os.path.exists(python)
    except OSError:
        ready = False
    if not ready:
        print(f"shippers.py: creating {VENV} ({', '.join(PINS)})", file=sys.stderr, flush=True)
        subprocess.run(["rm", "-rf", VENV], check=True)
        if subprocess.run([sys.executable, "-m", "venv", VENV]).returncode != 0:
            raise SystemExit("shippers.py: python3 -m venv failed; install python3-venv")
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *PINS], check=True)
        with open(marker, "w") as f:
            f.write("\n".join(PINS) + "\n")
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])


if __name__ == "__main__":
    in_venv()

import datetime  # noqa: E402  (below: only under the venv)
import http.client  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402

import cramjam  # noqa: E402
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (  # noqa: E402
    ExportLogsServiceRequest, ExportLogsServiceResponse)

sys.dont_write_bytecode = True  # no benches/__pycache__ left behind by importing run.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (benches/run.py: Server, scratch databases, /proc readers)
from run import QUICK, proc_stat, psql, scratch_database  # noqa: E402


def arg_value(name, default):
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1].replace("_", ""))
    return default


RECORDS = arg_value("--records", 3_000 if QUICK else 200_000)
REPEATS = arg_value("--repeats", 1 if QUICK else 3)
BATCH = 1_000
CONNECTIONS = 8
RESEND_SHARE = 0.2
# How far back a "recent" re-send reaches, in records (as the publisher's workload).
RECENT_WINDOW = 64
TARGET = 0.8
SEED = 20261207
PROTOCOLS = ["_bulk", "OTLP", "Loki"]

TOPICS = ["orders", "payments", "auth", "inventory", "shipping", "billing", "search",
          "notifications", "users", "audit"]
HOSTS_PER_TOPIC = 3
LEVELS = [("debug", 5), ("info", 9), ("warn", 13), ("error", 17)]
LEVEL_WEIGHTS = [15, 70, 10, 5]
PHRASES = ["request completed in {n} ms", "cache miss for key k{n}", "retrying upstream call, attempt {a}",
           "user u{n} signed in", "job j{n} finished", "payment authorised for order o{n}"]
FILLER = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
          "ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation")

STARTED = time.time()


def progress(what):
    print(f"shippers.py: {time.time() - STARTED:6.1f} s  {what}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The records

def rfc3339_ms(nanos):
    seconds, rest = divmod(nanos, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1_000_000:03d}Z"


def make_record(rng, key, base_ns):
    """Record `key`: its topic, host, id, time (its own millisecond), level and document."""
    topic = TOPICS[rng.randrange(len(TOPICS))]
    host = f"{topic}-{rng.randrange(HOSTS_PER_TOPIC) + 1}"
    level, severity = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
    nanos = base_ns + key * 1_000_000
    phrase = rng.choice(PHRASES).format(n=rng.randrange(100_000), a=rng.randrange(1, 6))
    # ~200 bytes a document: the phrase, a request id and filler to a varying length.
    head = f"{topic}: {phrase} request_id=r{key:08d} "
    message = head + FILLER[:max(0, rng.randrange(95, 135) - len(head))]
    document = json.dumps({"@timestamp": rfc3339_ms(nanos), "host": host, "level": level,
                           "message": message}, separators=(",", ":"))
    return {"key": key, "id": f"evt-{key:08d}", "topic": topic, "host": host, "nanos": nanos,
            "level": level, "severity": severity, "message": message, "document": document}


def generate(count, base_ns):
    """`count` records to send, exactly round(count x RESEND_SHARE) of them re-sends of earlier
    ones (sampled without replacement, the first never), and how many are distinct."""
    rng = random.Random(SEED)
    resends_left = min(round(count * RESEND_SHARE), count - 1)
    originals, sent = [], []
    new_in_request = 0  # records of the current request that are not re-sends
    for position in range(count):
        if position % BATCH == 0:
            new_in_request = 0
        left = count - position
        if originals and resends_left and (resends_left >= left or rng.randrange(left) < resends_left):
            resends_left -= 1
            generated = len(originals)
            # By turns: one of this request, a recent one, any earlier one.
            roll = rng.random()
            if roll < 0.3 and new_in_request:
                low = generated - new_in_request
            elif roll < 0.55:
                low = max(0, generated - RECENT_WINDOW)
            else:
                low = 0
            sent.append(originals[rng.randrange(low, generated)])
        else:
            record = make_record(rng, len(originals), base_ns)
            originals.append(record)
            sent.append(record)
            new_in_request += 1
    return sent, len(originals)


# ---------------------------------------------------------------------------------------------
# The three encodings of a request

def bulk_body(records):
    lines = []
    for r in records:
        lines.append(json.dumps({"index": {"_index": r["topic"], "_id": r["id"]}},
                                separators=(",", ":")))
        lines.append(r["document"])
    return ("\n".join(lines) + "\n").encode()


def grouped(records):
    """The records by (topic, host), groups in order of first appearance."""
    groups = {}
    for r in records:
        groups.setdefault((r["topic"], r["host"]), []).append(r)
    return groups


def otlp_body(records):
    request = ExportLogsServiceRequest()
    for (topic, host), group in grouped(records).items():
        resource_logs = request.resource_logs.add()
        for name, value in (("service.name", topic), ("host.name", host)):
            attribute = resource_logs.resource.attributes.add()
            attribute.key = name
            attribute.value.string_value = value
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = "bench"
        for r in group:
            record = scope_logs.log_records.add()
            record.time_unix_nano = r["nanos"]
            record.severity_number = r["severity"]
            record.severity_text = r["level"].upper()
            record.body.string_value = r["message"]
            uid = record.attributes.add()
            uid.key = "log.record.uid"
            uid.value.string_value = r["id"]
    return request.SerializeToString()


def varint(n):
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def field_bytes(number, payload):
    """A length-delimited field (wire type 2): strings and messages."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_varint(number, value):
    """A varint field (wire type 0), for the non-negative int64/int32 of a Timestamp."""
    return varint(number << 3) + varint(value)


def loki_body(records):
    """push.proto: PushRequest{1: repeated StreamAdapter{1: labels, 2: repeated
    EntryAdapter{1: Timestamp{1: seconds, 2: nanos}, 2: line}}}, snappy block format."""
    streams = []
    for (topic, host), group in grouped(records).items():
        labels = f'{{host="{host}", service_name="{topic}"}}'.encode()
        entries = []
        for r in group:
            seconds, nanos = divmod(r["nanos"], 1_000_000_000)
            timestamp = field_varint(1, seconds) + (field_varint(2, nanos) if nanos else b"")
            entries.append(field_bytes(2, field_bytes(1, timestamp) +
                                       field_bytes(2, r["document"].encode())))
        streams.append(field_bytes(1, field_bytes(1, labels) + b"".join(entries)))
    return bytes(cramjam.snappy.compress_raw(b"".join(streams)))


ENCODERS = {"_bulk": bulk_body, "OTLP": otlp_body, "Loki": loki_body}
# Path, content type and how a successful answer looks.
ROUTES = {"_bulk": ("/_bulk", "application/x-ndjson"),
          "OTLP": ("/v1/logs", "application/x-protobuf"),
          "Loki": ("/loki/api/v1/push", "application/x-protobuf")}


def answered_ok(protocol, status, body):
    if protocol == "_bulk":
        return status == 200 and b'"errors":false' in body[:200]
    if protocol == "OTLP":
        return (status == 200 and
                ExportLogsServiceResponse.FromString(body).partial_success.rejected_log_records == 0)
    return status == 204


# ---------------------------------------------------------------------------------------------
# One measured run

def send_all(url, protocol, bodies):
    """Sends every body over CONNECTIONS keep-alive connections, each taking the next request.
    Returns (first send, last answer, latencies in s, retries); fails on a refused request."""
    parsed = urllib.parse.urlparse(url)
    path, content_type = ROUTES[protocol]
    headers = {"Content-Type": content_type}
    lock = threading.Lock()
    next_index = [0]
    latencies, starts, ends, retries, failures = [], [], [], [0], []

    def sender():
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
        while not failures:
            with lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= len(bodies):
                break
            while True:
                start = time.perf_counter()
                try:
                    connection.request("POST", path, body=bodies[index], headers=headers)
                    response = connection.getresponse()
                    answer = response.read()
                    status = response.status
                except (http.client.HTTPException, OSError) as err:
                    # `_bulk` cuts a 429/503 answer short: a failed transfer a shipper retries.
                    connection.close()
                    status, answer = None, repr(err).encode()
                end = time.perf_counter()
                if status in (None, 429, 503):
                    with lock:
                        retries[0] += 1
                        if retries[0] > 100 * len(bodies):
                            failures.append(f"request {index}: gave up: {status} {answer[:300]!r}")
                    time.sleep(0.05)
                    continue
                break
            with lock:
                latencies.append(end - start)
                starts.append(start)
                ends.append(end)
            if not answered_ok(protocol, status, answer):
                failures.append(f"request {index}: {status} {answer[:500]!r}")
        connection.close()

    threads = [threading.Thread(target=sender) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"{protocol}: the server refused a request: {failures[0]}")
    return min(starts), max(ends), latencies, retries[0]


def get_json(url, path):
    parsed = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status != 200:
        raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
    return json.loads(body)


def check_counts(protocol, url, sent, distinct):
    stats = get_json(url, "/stats")
    want = {"received": sent, "unique_processed": distinct, "duplicate_dropped": sent - distinct}
    got = {name: stats.get(name) for name in want}
    if got != want:
        raise SystemExit(f"{protocol}: the server counted {got}, but {want} were sent")


def check_first_record(protocol, url, record):
    """The first record, read back by its topic and its millisecond: one event, as mapped."""
    query = urllib.parse.urlencode({"topic": record["topic"], "since": rfc3339_ms(record["nanos"]),
                                    "until": rfc3339_ms(record["nanos"] + 1_000_000)})
    events = get_json(url, f"/events?{query}")["events"]
    problem = None
    if len(events) != 1:
        problem = f"{len(events)} events"
    else:
        event = events[0]
        payload = event["payload"]
        message = payload.get("body" if protocol == "OTLP" else "message")
        stamp = event["timestamp"].replace("Z", "+00:00")
        micros = round(datetime.datetime.fromisoformat(stamp).timestamp() * 1_000_000)
        if event["source"] != record["host"]:
            problem = f"source {event['source']!r}"
        elif micros != record["nanos"] // 1000:
            problem = f"timestamp {event['timestamp']}"
        elif message != record["message"]:
            problem = f"message {message!r}"
        elif protocol != "Loki" and event["event_id"] != record["id"]:
            problem = f"event_id {event['event_id']!r}"
    if problem is not None:
        raise SystemExit(f"{protocol}: the first record ({record['id']}, {record['topic']}) "
                         f"reads back wrong: {problem}: {events[:1]}")


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(protocol, bodies, sent, distinct, first_record, log_dir):
    _, db_url = scratch_database()
    if not QUICK:  # a smoke needs no settled disk, and a CHECKPOINT after CI's tests can be long
        psql("CHECKPOINT")
    server = run.Server(["--database-url", db_url], log_dir)
    try:
        cpu_before, _ = proc_stat(server.proc.pid)
        pg_before = run.postgres_cpu()
        self_before = resource.getrusage(resource.RUSAGE_SELF)
        first, last, latencies, retries = send_all(server.url, protocol, bodies)
        self_after = resource.getrusage(resource.RUSAGE_SELF)
        cpu_after, hwm = proc_stat(server.proc.pid)
        pg_cpu = run.postgres_cpu() - pg_before
        check_counts(protocol, server.url, sent, distinct)
        check_first_record(protocol, server.url, first_record)
    finally:
        server.stop()
    client_cpu = ((self_after.ru_utime - self_before.ru_utime) +
                  (self_after.ru_stime - self_before.ru_stime))
    elapsed = last - first
    return {"protocol": protocol, "events": sent, "distinct": distinct, "requests": len(bodies),
            "events_per_second": sent / elapsed, "elapsed_s": elapsed,
            "p50_ms": percentile(latencies, 0.5) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
            "server_cpu_s": cpu_after - cpu_before,
            "server_us_per_event": (cpu_after - cpu_before) / sent * 1e6,
            "postgres_us_per_event": pg_cpu / sent * 1e6,
            "client_us_per_event": client_cpu / sent * 1e6,
            "server_rss_mib": hwm, "retries": retries, "verified": True}


# ---------------------------------------------------------------------------------------------

def fmt(value, spec):
    return format(value, spec) if value is not None else format("-", spec.split(".")[0])


def main(log_dir):
    base_ns = (int(time.time()) - 3600) * 1_000_000_000
    records, distinct = generate(RECORDS, base_ns)
    batches = [records[i:i + BATCH] for i in range(0, len(records), BATCH)]
    bodies = {protocol: [ENCODERS[protocol](batch) for batch in batches] for protocol in PROTOCOLS}
    body_kib = {protocol: sum(map(len, bodies[protocol])) / len(batches) / 1024 for protocol in PROTOCOLS}
    progress(f"{len(records):,} records ({distinct:,} distinct) in {len(batches)} requests a protocol, "
             f"encoded; a request: " + ", ".join(f"{p} {body_kib[p]:.0f} KiB" for p in PROTOCOLS))

    results = {protocol: [] for protocol in PROTOCOLS}
    for repeat in range(REPEATS):
        order = PROTOCOLS[repeat % 3:] + PROTOCOLS[:repeat % 3]
        for protocol in order:
            row = measure(protocol, bodies[protocol], len(records), distinct, records[0], log_dir)
            row["repeat"] = repeat + 1
            results[protocol].append(row)
            progress(f"repeat {repeat + 1} {protocol:<5} {row['events_per_second']:>9.0f} events/s, "
                     f"server {row['server_us_per_event']:.1f} us/event, counts checked")

    bulk = [row["events_per_second"] for row in results["_bulk"]]
    for protocol in PROTOCOLS:
        for row, reference in zip(results[protocol], bulk):
            row["ratio_to_bulk"] = row["events_per_second"] / reference

    median = statistics.median
    repeat_heads = " ".join(f"{'ev/s r' + str(r + 1):>9}" for r in range(REPEATS))
    ratio_heads = " ".join(f"{'x r' + str(r + 1):>6}" for r in range(REPEATS))
    print(f"\n{'protocol':<8} {repeat_heads} {'median':>9} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'srv us/ev':>9} {'pg us/ev':>8} {'cli us/ev':>9} {'req KiB':>7} {ratio_heads} "
          f"{'x bulk':>6}")
    verdicts = []
    for protocol in PROTOCOLS:
        rows = results[protocol]
        rates = " ".join(f"{row['events_per_second']:>9.0f}" for row in rows)
        ratios = " ".join(f"{row['ratio_to_bulk']:>6.2f}" for row in rows)
        ratio = median(row["ratio_to_bulk"] for row in rows)
        print(f"{protocol:<8} {rates} {median(row['events_per_second'] for row in rows):>9.0f} "
              f"{median(row['p50_ms'] for row in rows):>7.1f} "
              f"{median(row['p99_ms'] for row in rows):>7.1f} "
              f"{median(row['server_us_per_event'] for row in rows):>9.1f} "
              f"{median(row['postgres_us_per_event'] for row in rows):>8.1f} "
              f"{median(row['client_us_per_event'] for row in rows):>9.1f} "
              f"{body_kib[protocol]:>7.0f} {ratios} {ratio:>6.2f}")
        if protocol != "_bulk":
            verdicts.append(f"{protocol}: median {ratio:.2f} x _bulk "
                            f"(repeats {', '.join(format(row['ratio_to_bulk'], '.2f') for row in rows)}): "
                            f"{'PASS' if ratio >= TARGET else 'MISS'} against >= {TARGET} x")
    retries = {p: sum(row["retries"] for row in results[p]) for p in PROTOCOLS}
    print(f"\n{len(records):,} records a run ({distinct:,} distinct, {RESEND_SHARE:.0%} re-sends), "
          f"{BATCH:,} a request, {CONNECTIONS} connections, {REPEATS} repeat(s) in rotated order, "
          f"each run a fresh server on a fresh PostgreSQL database; medians over the repeats; "
          f"every run's counts and first record checked.")
    print("retries (429/503 or a cut answer): " + ", ".join(f"{p} {n}" for p, n in retries.items()))
    for verdict in verdicts:
        print(verdict)
    if QUICK:
        print("(--quick: a smoke of the script, too small to judge the target)")
    if os.environ.get("BENCH_RESULTS"):
        with open(os.environ["BENCH_RESULTS"], "a") as f:
            for protocol in PROTOCOLS:
                for row in results[protocol]:
                    f.write(json.dumps({"bench": "shippers", **row, "request_kib": body_kib[protocol]})
                            + "\n")


if __name__ == "__main__":
    try:
        main(tempfile.mkdtemp(prefix="aggbench-shippers-"))
    finally:
        run.drop_scratch_databases()
