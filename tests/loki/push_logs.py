"""The application side of tests/loki: logs numbered records through Python's standard `logging`
into python-logging-loki's `LokiHandler` (its version "1" emitter: one JSON push to
/loki/api/v1/push per record, as `{"streams":[{"stream":{tags},"values":[["<ns>","line"]]}]}`),
as a service using that library would, then prints one JSON line of figures on stdout for the
Rust test to read.

Each record's message carries its number and the run id:
    "order 00042 paid, record 43 of 500, run <run id>"
Every hundredth record is logged at ERROR, the others at INFO; the handler puts the level in the
`severity` label and the logger's name in the `logger` label, beside the tags given here.

The handler is the library's own; only its `requests.Session` is given a subclass that counts
the requests, their Content-Type and statuses, the transport errors, and digests the bodies in
order (so the test can tell two runs sent byte-identical pushes).

The handler stamps each push with `time.time()` when it sends it. With `--clock-ns START`, the
emitter's `time` is a clock that starts at START nanoseconds and ticks 1 ms per reading: two runs
with the same arguments then send the same bytes, which is how the test replays a client's
pushes through the client itself.

Usage: push_logs.py URL COUNT RUN_ID [--clock-ns START]
"""

import argparse
import collections
import hashlib
import json
import logging
import sys
import time

import logging_loki
import requests
from logging_loki import emitter

LOGGER_NAME = "checkout.orders"
TAGS = {"service_name": "checkout", "host": "vm-1"}


class CountingSession(requests.Session):
    """A plain `requests.Session` that counts every request the handler makes."""

    requests_made = 0
    statuses = collections.Counter()
    errors = collections.Counter()
    content_types = collections.Counter()
    bodies = hashlib.sha256()

    def request(self, *args, **kwargs):
        cls = CountingSession
        cls.requests_made += 1
        try:
            response = super().request(*args, **kwargs)
        except Exception as error:  # counted, then handed to the handler unchanged
            cls.errors[type(error).__name__] += 1
            raise
        sent = response.request
        cls.content_types[sent.headers.get("Content-Type", "(none)")] += 1
        body = sent.body if isinstance(sent.body, bytes) else str(sent.body).encode()
        cls.bodies.update(len(body).to_bytes(8, "big"))
        cls.bodies.update(body)
        cls.statuses[str(response.status_code)] += 1
        return response


class FixedClock:
    """Stands in for the `time` module inside the emitter: START, then 1 ms more per reading."""

    def __init__(self, start_ns):
        self.start_ns = start_ns
        self.readings = 0

    def time(self):
        now = (self.start_ns + self.readings * 1_000_000) / 1e9
        self.readings += 1
        return now


class CountingHandler(logging_loki.LokiHandler):
    """The library's handler, counting the records it failed to send (a non-204 or no answer)."""

    failures = 0

    def handleError(self, record):  # noqa: N802 (logging's name)
        CountingHandler.failures += 1
        super().handleError(record)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("run_id")
    parser.add_argument("--clock-ns", type=int)
    args = parser.parse_args()

    emitter.LokiEmitter.session_class = CountingSession
    if args.clock_ns is not None:
        emitter.time = FixedClock(args.clock_ns)
    handler = CountingHandler(url=args.url, tags=dict(TAGS), version="1")
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)

    started = time.monotonic()
    for i in range(args.count):
        level = logging.ERROR if i % 100 == 99 else logging.INFO
        logger.log(
            level,
            "order %05d paid, record %d of %d, run %s",
            i,
            i + 1,
            args.count,
            args.run_id,
        )
    handler.close()
    report = {
        "logged": args.count,
        "requests": CountingSession.requests_made,
        "statuses": dict(CountingSession.statuses),
        "transport_errors": dict(CountingSession.errors),
        "content_types": dict(CountingSession.content_types),
        "handler_failures": CountingHandler.failures,
        "bodies_sha256": CountingSession.bodies.hexdigest(),
        "total_s": time.monotonic() - started,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
