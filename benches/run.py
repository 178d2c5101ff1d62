#!/usr/bin/env python3
"""One benchmark run of the aggregator, printed as one table.

In one run, on one machine: the storage ceiling (`aggregator bench ceiling`: the same generated
workload committed straight through the store, no HTTP, no actors), then the aggregator under
`aggregator publish` for each workload, each against a freshly started server process so that
its peak RSS (VmHWM) belongs to that workload alone. For every row: events/s, request latency
p50/p99 (from the publisher), server peak RSS, wall time, and the CPU seconds of the server, the
publisher and PostgreSQL during the workload (to show where the two cores go and that the
publisher is not the bottleneck), the server's CPU per event, and the ratio to the ceiling. The
reference for single events is the HTTP ceiling of the same box: `GET /health` under wrk with 64
connections, measured in the same run; single-event rows also print their ratio to it.
The naive durable design is measured in the same run too: `aggregator bench ceiling --batch-size 1
--connections 64`, one event per commit straight to the store, once with the committer's counter
row updated in each commit and once without (`--without-counters`); single-event rows print their
ratio to the rate without counters (`x naive`). Every row prints PostgreSQL's CPU per event
(`pg us/ev`: CPU seconds of every PostgreSQL process during the workload over its events) and,
for the aggregator's rows, the events an average commit carried (`ev/commit`, from the server's
`aggregator_commit_batch_events` histogram).
Two rows emulate a disk whose flush takes 2.5 ms longer (PostgreSQL's `commit_delay`, set on their
scratch database with `commit_siblings = 0`: each WAL flush sleeps that long while holding the WAL
write lock, as a slow fsync would), once with the default one commit in flight per shard and
once with two (pipelined), so the run shows what overlapping commits buy on a slow disk.
Four rows measure ingest beside retention: each server starts on a store that
already holds a backlog of BACKLOG_EVENTS events stored an hour ago (inserted straight into
the store, not measured), once kept (no retention) and once with `--retention 10m`, so that
the pruner deletes the backlog flat out while the workload runs; the `pruned` column is how
many rows it deleted during the workload (a row whose pruner finished early says so). Four
more rows publish at a steady 5,000 events/s on such a store, kept and pruned: a pruned row's
`pruned` column over its wall time is the rate the pruner deletes at while ingest goes on,
which is the sustained ingest a retention can keep up with, and its p99 against the kept row's
is what pruning costs a steady load's latency.
Every publisher run verifies the server's counts and the script fails if one does not.

Usage:
  benches/run.py                 full run (minutes; use a release binary)
  benches/run.py --quick         a few seconds: the CI smoke that keeps the script working
  benches/run.py --only backlog  only the workloads whose names contain one of the words after
                                 --only (the ceiling rows and GET /health always run)

Environment:
  BIN                  aggregator binary        [target/release/aggregator]
  BENCH_DATABASE_URL   maintenance database, to create scratch databases
                       [postgres://postgres@127.0.0.1:5432/postgres]
  BENCH_RESULTS        append the table as JSON lines to this file
  SERVE_ARGS           extra `aggregator serve` flags for every workload's server, e.g.
                       "--shards 2 --batch-linger 5ms" (not for GET /health)
  WRK                  wrk binary, for the GET /health row [wrk]; the row is skipped, with a
                       note, when it is missing (apt-get install -y wrk)
"""
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

BIN = os.environ.get("BIN", "target/release/aggregator")
MAINTENANCE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
QUICK = "--quick" in sys.argv
SERVE_ARGS = os.environ.get("SERVE_ARGS", "").split()

# Extra flush time of the "slow fsync" rows, in microseconds (PostgreSQL's commit_delay).
SLOW_FSYNC_US = 2_500

# (name, backend, publish args, events[, serve args]) — sizes for a full run; --quick divides
# them. Backend "postgres-slow-fsync" is a scratch database of its own with SLOW_FSYNC_US.
WORKLOADS = [
    ("batch1000 c8 pg", "postgres", ["--batch-size", "1000", "--concurrency", "8"], 400_000),
    ("single c64 pg", "postgres", ["--batch-size", "1", "--concurrency", "64"], 100_000),
    ("batch100 c32 pg", "postgres", ["--batch-size", "100", "--concurrency", "32"], 400_000),
    ("resend batch1000 c8 pg", "postgres-resend", ["--batch-size", "1000", "--concurrency", "8"], 1_000_000),
    ("batch1000 c8 embedded", "embedded", ["--batch-size", "1000", "--concurrency", "8"], 400_000),
    ("single c64 embedded", "embedded", ["--batch-size", "1", "--concurrency", "64"], 100_000),
    ("single c64 pg slow fsync", "postgres-slow-fsync",
     ["--batch-size", "1", "--concurrency", "64"], 50_000),
    ("slow fsync 2 commits/shard", "postgres-slow-fsync",
     ["--batch-size", "1", "--concurrency", "64"], 50_000, ["--commits-in-flight", "2"]),
    ("batch100 pg backlog kept", "postgres-backlog",
     ["--batch-size", "100", "--concurrency", "32"], 400_000),
    ("batch100 pg backlog pruned", "postgres-backlog",
     ["--batch-size", "100", "--concurrency", "32"], 400_000, ["--retention", "10m"]),
    ("batch100 emb backlog kept", "embedded-backlog",
     ["--batch-size", "100", "--concurrency", "32"], 400_000),
    ("batch100 emb backlog pruned", "embedded-backlog",
     ["--batch-size", "100", "--concurrency", "32"], 400_000, ["--retention", "10m"]),
    # Steady ingest well below saturation: how fast the pruner deletes while commits go on (it
    # is paced while anything commits), i.e. the sustained ingest retention keeps up with.
    ("5k/s pg backlog kept", "postgres-backlog",
     ["--batch-size", "100", "--concurrency", "8", "--rate", "5000"], 100_000),
    ("5k/s pg backlog pruned", "postgres-backlog",
     ["--batch-size", "100", "--concurrency", "8", "--rate", "5000"], 100_000,
     ["--retention", "10m"]),
    ("5k/s emb backlog kept", "embedded-backlog",
     ["--batch-size", "100", "--concurrency", "8", "--rate", "5000"], 100_000),
    ("5k/s emb backlog pruned", "embedded-backlog",
     ["--batch-size", "100", "--concurrency", "8", "--rate", "5000"], 100_000,
     ["--retention", "10m"]),
]
# Expired events already stored when a "backlog" row starts (see the module doc).
BACKLOG_EVENTS = 2_000_000
ONLY = sys.argv[sys.argv.index("--only") + 1:] if "--only" in sys.argv else []
# Connections of the GET /health reference, as for single events.
HEALTH_CONNECTIONS = 64
WRK = os.environ.get("WRK", "wrk")
CEILING_EVENTS = 400_000
# The naive durable design: one event per commit, as many committers as single-event
# connections.
NAIVE_EVENTS = 40_000
NAIVE_CONNECTIONS = 64


def scaled(events):
    return max(2_000, events // 200) if QUICK else events


def psql(sql, url=MAINTENANCE):
    subprocess.run(["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


# Scratch databases of this run, dropped when it ends (pass or fail).
SCRATCH = []


def scratch_database():
    name = "bench_" + uuid.uuid4().hex[:12]
    psql(f'CREATE DATABASE "{name}"')
    SCRATCH.append(name)
    # Keep the query string: a multi-host URL of a failover pair needs its
    # target_session_attrs=read-write (and any sslmode) on the scratch database too.
    address, _, query = MAINTENANCE.partition("?")
    base, _, _ = address.rpartition("/")
    return name, f"{base}/{name}" + (f"?{query}" if query else "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_cpu():
    """CPU seconds used so far by every PostgreSQL process (server backends included), and by
    the backends that have already ended: the postmaster reaps them, so their CPU is in its
    children's times (cutime, cstime). Without those, a client that disconnects before the
    second reading (`bench ceiling`) would take its backends' CPU with it."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                head, _, tail = f.read().rpartition(")")
            if "postgres" not in head:
                continue
            fields = tail.split()
            total += sum(int(field) for field in fields[11:15]) / ticks
        except OSError:
            continue
    return total


def proc_stat(pid):
    """(cpu seconds, peak RSS MiB) of a running process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return cpu, hwm


class Server:
    def __init__(self, store_args, log_dir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("AGG_")}
        env["RUST_LOG"] = "warn"
        self.log = open(os.path.join(log_dir, f"server-{self.port}.log"), "w")
        self.proc = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{self.port}", *store_args],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"server on {self.url} never became ready; see {self.log.name}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()


def publish(url, args, events, seed, replay=False):
    cmd = [BIN, "publish", "--url", url, "--events", str(events), "--seed", str(seed), "--json", *args]
    if replay:
        cmd.append("--replay")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"publish failed ({done.returncode}): {' '.join(cmd)}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return report, cpu


def backlog_store(backend, log_dir):
    """A fresh store (migrated by a server started once) holding BACKLOG_EVENTS events stored
    an hour ago over 10 topics of their own, as server arguments."""
    events = scaled(BACKLOG_EVENTS)
    if backend == "postgres-backlog":
        _, url = scratch_database()
        Server(["--database-url", url], log_dir).stop()
        psql(f"""INSERT INTO events (topic, event_id, ts, source, payload, received_at)
                SELECT 'backlog-' || (i % 10), 'old-' || i, now(), 'bench', json_build_object(
                           'level', 'info', 'message', repeat('x', 300), 'i', i),
                       now() - interval '1 hour'
                FROM generate_series(1, {events}) AS i""", url)
        psql("INSERT INTO topic_heads (topic) SELECT 'backlog-' || i FROM generate_series(0, 9) "
             "AS i ON CONFLICT DO NOTHING", url)
        psql("VACUUM ANALYZE events", url)
        # Writing the backlog made ~1 GB of WAL: without a checkpoint now, the one it triggers
        # would write its pages out during the measured workload, kept or pruned alike.
        psql("CHECKPOINT", url)
        return ["--database-url", url]
    import sqlite3
    data_dir = tempfile.mkdtemp(prefix="aggbench-data-")
    Server(["--data-dir", data_dir], log_dir).stop()
    db = sqlite3.connect(os.path.join(data_dir, "aggregator.db"))
    hour_ago = int((time.time() - 3600) * 1e6)
    payload = json.dumps({"level": "info", "message": "x" * 300})
    db.executemany("INSERT INTO events (seq, topic, event_id, ts, source, payload, received_at) "
                   "VALUES (?, ?, ?, ?, 'bench', ?, ?)",
                   ((i, f"backlog-{i % 10}", f"old-{i}", hour_ago, payload, hour_ago)
                    for i in range(1, events + 1)))
    db.commit()
    db.close()
    return ["--data-dir", data_dir]


def expired(url):
    with urllib.request.urlopen(url + "/stats", timeout=10) as r:
        return json.load(r).get("expired", 0)


def ceiling(db_url, events, batch_size, connections, extra=()):
    """`aggregator bench ceiling` on `db_url`: its report, with the CPU seconds of the client
    and of PostgreSQL during the run."""
    cmd = [BIN, "bench", "ceiling", "--database-url", db_url, "--events", str(events),
           "--batch-size", str(batch_size), "--connections", str(connections), "--json", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    pg_before = postgres_cpu()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    pg_cpu = postgres_cpu() - pg_before
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["client_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report["postgres_cpu_s"] = pg_cpu
    return report


def ceiling_row(name, report, ceiling_eps):
    events = report["events"]
    return {"workload": name, "events_per_second": report["events_per_second"],
            "p50_ms": None, "p99_ms": None, "server_rss_mib": None, "server_cpu_s": None,
            "server_us_per_event": None, "publisher_cpu_s": report["client_cpu_s"],
            "postgres_cpu_s": report["postgres_cpu_s"],
            "pg_us_per_event": report["postgres_cpu_s"] / events * 1e6 if events else None,
            "elapsed_s": report["elapsed_seconds"], "ratio": report["events_per_second"] / ceiling_eps,
            "verified": True}


def commit_sizes(url):
    """(events, commits) the server's commits have carried so far, from /metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    total = {}
    for suffix in ("sum", "count"):
        match = re.search(rf"^aggregator_commit_batch_events_{suffix}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
        total[suffix] = float(match.group(1)) if match else 0.0
    return total["sum"], total["count"]


def health_reference(log_dir):
    """GET /health requests/s under wrk (64 connections): the HTTP ceiling of this box, the
    reference of single events. None, with a note, when wrk is missing."""
    if shutil.which(WRK) is None:
        print(f"run.py: {WRK} not found, no GET /health row (apt-get install -y wrk)", file=sys.stderr)
        return None
    server = Server(["--data-dir", tempfile.mkdtemp(prefix="aggbench-data-")], log_dir)
    seconds = 2 if QUICK else 10
    cpu_before, _ = proc_stat(server.proc.pid)
    # One wrk thread per connection, as the neutral harness (../shared/bench/run.sh) drives
    # POST /publish and as the issue measured its 47k reference; -t2 gives ~1.6 x more here.
    done = subprocess.run([WRK, f"-t{HEALTH_CONNECTIONS}", f"-c{HEALTH_CONNECTIONS}", f"-d{seconds}s", "--latency",
                           server.url + "/health"], capture_output=True, text=True, check=True)
    cpu_after, hwm = proc_stat(server.proc.pid)
    server.stop()
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", done.stdout)
    p50 = re.search(r"\s50%\s+([0-9.]+)(us|ms|s)", done.stdout)
    p99 = re.search(r"\s99%\s+([0-9.]+)(us|ms|s)", done.stdout)
    if rate is None:
        raise SystemExit(f"cannot read wrk's output:\n{done.stdout}")
    to_ms = lambda m: None if m is None else float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    requests = float(rate.group(1)) * seconds
    return {"workload": f"GET /health c{HEALTH_CONNECTIONS} (wrk)", "events_per_second": float(rate.group(1)),
            "p50_ms": to_ms(p50), "p99_ms": to_ms(p99), "server_rss_mib": hwm,
            "server_cpu_s": cpu_after - cpu_before,
            "server_us_per_event": (cpu_after - cpu_before) / requests * 1e6 if requests else None,
            "publisher_cpu_s": None, "postgres_cpu_s": None, "elapsed_s": float(seconds),
            "ratio": None, "verified": True}


def main():
    log_dir = tempfile.mkdtemp(prefix="aggbench-")
    _, ceiling_url = scratch_database()
    ceiling_report = ceiling(ceiling_url, scaled(CEILING_EVENTS), 1000, 4)
    ceiling_eps = ceiling_report["events_per_second"]
    rows = [ceiling_row("ceiling (store direct) pg", ceiling_report, ceiling_eps)]
    # The naive durable design, each on a fresh database as the aggregator's rows are.
    _, naive_url = scratch_database()
    naive = ceiling(naive_url, scaled(NAIVE_EVENTS), 1, NAIVE_CONNECTIONS, ["--without-counters"])
    rows.append(ceiling_row(f"1 event/commit c{NAIVE_CONNECTIONS} pg", naive, ceiling_eps))
    _, counted_url = scratch_database()
    counted = ceiling(counted_url, scaled(NAIVE_EVENTS), 1, NAIVE_CONNECTIONS)
    rows.append(ceiling_row(f"1 ev/commit+counters c{NAIVE_CONNECTIONS}", counted, ceiling_eps))
    naive_eps = naive["events_per_second"]
    health = health_reference(log_dir)
    if health is not None:
        rows.append(health)
    _, pg_url = scratch_database()
    slow_name, slow_url = scratch_database()
    for setting in (f"commit_delay = {SLOW_FSYNC_US}", "commit_siblings = 0"):
        psql(f'ALTER DATABASE "{slow_name}" SET {setting}')
    resend_seed = 4242
    for name, backend, args, events, *serve_args in WORKLOADS:
        if ONLY and not any(word in name for word in ONLY):
            continue
        events = scaled(events)
        if backend.endswith("-backlog"):
            store_args = backlog_store(backend, log_dir)
        elif backend == "embedded":
            store_args = ["--data-dir", tempfile.mkdtemp(prefix="aggbench-data-")]
        elif backend == "postgres-slow-fsync":
            store_args = ["--database-url", slow_url]
        else:
            store_args = ["--database-url", pg_url]
        server = Server(store_args + [arg for extra in serve_args for arg in extra] + SERVE_ARGS, log_dir)
        if backend == "postgres-resend":
            # Store the stream once (not measured), then re-send every event of it to the same
            # server, whose fast path is warm: what a retry storm after an outage looks like.
            publish(server.url, args, events, resend_seed)
        seed = resend_seed if backend == "postgres-resend" else int(time.time() * 1000) % 2**31
        cpu_before, _ = proc_stat(server.proc.pid)
        pg_before = postgres_cpu()
        expired_before = expired(server.url)
        committed_before = commit_sizes(server.url)
        report, publisher_cpu = publish(server.url, args, events, seed,
                                        replay=(backend == "postgres-resend"))
        cpu_after, hwm = proc_stat(server.proc.pid)
        pg_cpu = postgres_cpu() - pg_before
        pruned = expired(server.url) - expired_before
        committed_after = commit_sizes(server.url)
        commits = committed_after[1] - committed_before[1]
        server.stop()
        rows.append({
            "workload": name, "events_per_second": report["events_per_second"],
            "p50_ms": report["latency_ms"]["p50"], "p99_ms": report["latency_ms"]["p99"],
            "server_rss_mib": hwm, "server_cpu_s": cpu_after - cpu_before,
            "server_us_per_event": (cpu_after - cpu_before) / events * 1e6,
            "publisher_cpu_s": publisher_cpu, "postgres_cpu_s": pg_cpu,
            "pg_us_per_event": pg_cpu / events * 1e6 if backend.startswith("postgres") else None,
            "events_per_commit": (committed_after[0] - committed_before[0]) / commits if commits else None,
            "elapsed_s": report["elapsed_seconds"],
            "ratio": report["events_per_second"] / ceiling_eps,
            "health_ratio": (report["events_per_second"] / health["events_per_second"]
                             if health is not None and name.startswith("single") else None),
            "naive_ratio": report["events_per_second"] / naive_eps if name.startswith("single") else None,
            "verified": report["verified"], "events": events, "pruned": pruned,
        })
        if not report["verified"]:
            raise SystemExit(f"{name}: the publisher could not verify the server's counts")

    # `pub cpu` is the load generator's CPU: the publisher's, or the ceiling client's.
    print(f"{'workload':<26} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>8} "
          f"{'wall s':>7} {'srv cpu':>8} {'srv us/ev':>9} {'pub cpu':>8} {'pg cpu':>8} "
          f"{'pg us/ev':>8} {'ev/commit':>9} {'x ceiling':>9} {'x /health':>9} {'x naive':>7} "
          f"{'pruned':>8}")
    # A missing figure prints as "-" in the column's width ('>8.2f' -> '>8').
    fmt = lambda v, spec: format(v, spec) if v is not None else format("-", spec.split(".")[0])
    for row in rows:
        print(f"{row['workload']:<26} {row['events_per_second']:>10.0f} {fmt(row['p50_ms'], '>8.2f')} "
              f"{fmt(row['p99_ms'], '>8.2f')} {fmt(row['server_rss_mib'], '>8.1f')} "
              f"{fmt(row['elapsed_s'], '>7.2f')} {fmt(row['server_cpu_s'], '>8.2f')} "
              f"{fmt(row.get('server_us_per_event'), '>9.1f')} "
              f"{fmt(row['publisher_cpu_s'], '>8.2f')} {fmt(row['postgres_cpu_s'], '>8.2f')} "
              f"{fmt(row.get('pg_us_per_event'), '>8.1f')} {fmt(row.get('events_per_commit'), '>9.1f')} "
              f"{fmt(row['ratio'], '>9.2f')} {fmt(row.get('health_ratio'), '>9.2f')} "
              f"{fmt(row.get('naive_ratio'), '>7.2f')} {fmt(row.get('pruned'), '>8')}")
    if os.environ.get("BENCH_RESULTS"):
        with open(os.environ["BENCH_RESULTS"], "a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")


def drop_scratch_databases():
    for name in SCRATCH:
        try:
            psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except subprocess.CalledProcessError:
            print(f"run.py: could not drop scratch database {name}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    finally:
        drop_scratch_databases()
