#!/usr/bin/env python3
"""Logs the way a Python service does with python-logging-loki: the standard `logging`
module with a LokiHandler, each record pushed as it is logged.

    python_logging_loki.py URL {0,1} SERVICE

URL is the push endpoint. Emitter version 0 (the package's default) sends the legacy JSON
form (labels as one string, RFC 3339 times), version 1 today's form. Prints one JSON object:
the messages whose push the handler reported as failed (it needs exactly 204).
"""

import json
import logging
import sys
import warnings

import logging_loki


class Recording(logging_loki.LokiHandler):
    """The real handler, with the records whose push failed kept for the caller."""

    failed = []

    def handleError(self, record):  # noqa: N802 (logging's name)
        self.failed.append(record.getMessage())
        super().handleError(record)


def main():
    url, version, service = sys.argv[1:4]
    warnings.simplefilter("ignore", DeprecationWarning)
    handler = Recording(
        url=url,
        tags={"service": service, "env": "test"},
        version=version,
    )
    logger = logging.getLogger("checkout.payments")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)

    # Per-record labels, as python-logging-loki takes them.
    logger.warning("card %s declined", "4242", extra={"tags": {"order_id": "1234"}})
    logger.error("charge failed")
    logger.critical("ledger unreachable")
    logger.debug("cache miss")
    logger.info(json.dumps({"msg": "json line", "user": "ada", "cart": {"items": 3}}))
    # A blank line breaks the event's rule: Traceflow refuses it (400), the handler says so.
    logger.info("   ")

    print(json.dumps({"failed": Recording.failed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
