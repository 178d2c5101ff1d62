"""The application side of tests/otlp: logs numbered records through Python's standard `logging`
into OpenTelemetry's SDK (`LoggingHandler` -> `LoggerProvider` -> `BatchLogRecordProcessor` ->
`OTLPLogExporter`, protobuf over HTTP), as an instrumented service would, then flushes, shuts
down and prints one JSON line of figures on stdout for the Rust test to read.

Each record's message carries its number and the run id:
    "order 00042 paid, record 43 of 2000, run <run id>"

The exporter is the SDK's own; only its `requests.Session` is given a subclass that counts the
HTTP attempts (retries included), their Content-Encoding, their statuses and the transport
errors, and the exporter is wrapped to count the batches it reports exported or failed.
Compression comes from the standard variable OTEL_EXPORTER_OTLP_COMPRESSION, which the test
sets.

Usage: export_logs.py ENDPOINT COUNT RUN_ID [--batch-size N] [--timeout SECONDS]
"""

import argparse
import collections
import json
import logging
import sys
import time
import warnings

import requests
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
from opentelemetry.sdk.resources import Resource

# The logger whose name becomes the records' instrumentation scope.
LOGGER_NAME = "checkout.orders"


class CountingSession(requests.Session):
    """A plain `requests.Session` that counts every attempt the exporter makes."""

    def __init__(self):
        super().__init__()
        self.attempts = 0
        self.statuses = collections.Counter()
        self.errors = collections.Counter()
        self.encodings = collections.Counter()

    def request(self, *args, **kwargs):
        self.attempts += 1
        headers = kwargs.get("headers") or {}
        self.encodings[headers.get("Content-Encoding", "identity")] += 1
        try:
            response = super().request(*args, **kwargs)
        except Exception as error:  # counted, then handed to the exporter unchanged
            self.errors[type(error).__name__] += 1
            raise
        self.statuses[str(response.status_code)] += 1
        return response


class CountingExporter(OTLPLogExporter):
    """The SDK's exporter, counting the batches (and their records) it reports done or failed."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.batches = collections.Counter()
        self.records = collections.Counter()

    def export(self, batch):
        result = super().export(batch)
        outcome = "exported" if result is LogRecordExportResult.SUCCESS else "failed"
        self.batches[outcome] += 1
        self.records[outcome] += len(batch)
        return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint", help="http://127.0.0.1:PORT/v1/logs")
    parser.add_argument("count", type=int)
    parser.add_argument("run_id")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--timeout", type=float, default=None, help="exporter timeout (s)")
    args = parser.parse_args()

    # The SDK's own warnings (retries, failures) go to stderr, which the test shows on failure.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    warnings.simplefilter("ignore", DeprecationWarning)  # LoggingHandler moves to a contrib package

    session = CountingSession()
    exporter = CountingExporter(endpoint=args.endpoint, session=session, timeout=args.timeout)
    provider = LoggerProvider(
        resource=Resource.create({"service.name": "checkout", "service.instance.id": "checkout-1"})
    )
    # The queue holds every record, so that none is dropped while the exporter waits on the
    # server: what is lost can then only be lost by the exporter or the server.
    provider.add_log_record_processor(
        BatchLogRecordProcessor(
            exporter,
            max_queue_size=max(args.count, 2048),
            max_export_batch_size=args.batch_size,
            schedule_delay_millis=100,
        )
    )
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # only OpenTelemetry gets these records
    logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))

    started = time.monotonic()
    for i in range(args.count):
        logger.info("order %05d paid, record %d of %d, run %s", i, i + 1, args.count, args.run_id)
    logged_s = time.monotonic() - started
    flushed = provider.force_flush()
    provider.shutdown()
    print(
        json.dumps(
            {
                "run_id": args.run_id,
                "logged": args.count,
                "logged_s": round(logged_s, 3),
                "total_s": round(time.monotonic() - started, 3),
                "flushed": flushed,
                "batches_exported": exporter.batches["exported"],
                "batches_failed": exporter.batches["failed"],
                "records_exported": exporter.records["exported"],
                "records_failed": exporter.records["failed"],
                "http_attempts": session.attempts,
                "http_statuses": dict(session.statuses),
                "transport_errors": dict(session.errors),
                "content_encodings": dict(session.encodings),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
