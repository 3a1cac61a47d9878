#!/usr/bin/env python3
"""Sends log records to Traceflow the way a Python service would: the OpenTelemetry SDK's
LoggerProvider with a batch processor and an OTLP exporter, fed by the standard `logging`
module (through the SDK's LoggingHandler) and by the SDK's Logs API directly.

    export_logs.py ENDPOINT {protobuf,json,grpc} SERVICE [--gzip] [--header NAME=VALUE]...

`protobuf` uses opentelemetry-exporter-otlp-proto-http and `json`
opentelemetry-exporter-otlp-json-http, both with ENDPOINT the full URL of /v1/logs; `grpc` uses
opentelemetry-exporter-otlp-proto-grpc, with ENDPOINT `http://host:port`. Headers (gRPC
metadata for `grpc`) go with every export. Prints one JSON object: what the test needs to
check the stored records (the span's ids, the exporter's results). Exits 1 if an export
failed.
"""

import argparse
import json
import logging
import sys
import warnings

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

# 2026-05-05T10:00:00.250Z
EXPLICIT_TIME_NS = 1_777_975_200_250_000_000
# Over the 16 KiB a metadata value may hold: the record carrying it is rejected alone.
OVERSIZED = "x" * (16 * 1024 + 1)


class Recording(LogRecordExporter):
    """The real exporter, with each export's outcome kept for the exit status."""

    def __init__(self, inner):
        self.inner = inner
        self.results = []

    def export(self, batch):
        result = self.inner.export(batch)
        self.results.append(result == LogRecordExportResult.SUCCESS)
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30_000):
        return self.inner.force_flush(timeout_millis)


def exporter(endpoint, transport, gzip, headers):
    if transport == "grpc":
        from grpc import Compression
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        compression = Compression.Gzip if gzip else Compression.NoCompression
        return OTLPLogExporter(
            endpoint=endpoint, insecure=True, compression=compression, headers=headers, timeout=10
        )
    if transport == "protobuf":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.common.http import Compression
        from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
    # The two packages name their members differently; both take the values.
    compression = Compression("gzip" if gzip else "none")
    return OTLPLogExporter(endpoint=endpoint, compression=compression, headers=headers, timeout=10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("transport", choices=["protobuf", "json", "grpc"])
    parser.add_argument("service")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--header", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    headers = dict(header.split("=", 1) for header in args.header)
    warnings.simplefilter("ignore", DeprecationWarning)

    resource = Resource.create(
        {"service.name": args.service, "deployment.environment": "test", "shared": "resource"}
    )
    recording = Recording(exporter(args.endpoint, args.transport, args.gzip, headers))
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(BatchLogRecordProcessor(recording))
    tracer = TracerProvider(resource=resource).get_tracer("export_logs")

    # The standard logging module, as most Python services log.
    logger = logging.getLogger("checkout.payments")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(LoggingHandler(logger_provider=provider))
    with tracer.start_as_current_span("charge") as span:
        context = span.get_span_context()
        logger.warning(
            "card %s declined", "4242", extra={"order.id": 1234, "amount": 12.5, "retry": False}
        )
    try:
        raise ValueError("bad amount")
    except ValueError:
        logger.exception("charge failed")
    logger.critical("ledger unreachable")

    # The Logs API: every field set by hand.
    api = provider.get_logger("traceflow.test", "1.2.3", attributes={"shared": "scope", "scope.kind": "api"})
    api.emit(
        timestamp=EXPLICIT_TIME_NS,
        severity_number=SeverityNumber.DEBUG2,
        severity_text="notice",
        body={"user": "ada", "items": [1, 2]},
        attributes={"shared": "record", "http": {"method": "POST", "status": 201}, "tags": ["a", "b"]},
    )
    api.emit(severity_text="fatal", body=42)
    api.emit(body="no severity at all")
    api.emit(event_name="user.signup", attributes={"plan": "pro"})
    api.emit(body="too big to keep", attributes={"blob": OVERSIZED})

    flushed = provider.force_flush(30_000)
    provider.shutdown()
    ok = flushed and bool(recording.results) and all(recording.results)
    print(
        json.dumps(
            {
                "trace_id": format(context.trace_id, "032x"),
                "span_id": format(context.span_id, "016x"),
                "exports": recording.results,
                "flushed": flushed,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
