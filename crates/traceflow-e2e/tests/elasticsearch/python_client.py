#!/usr/bin/env python3
"""Writes to Traceflow's Elasticsearch bulk API the way a Python service would: the official
`elasticsearch` client's info(), helpers.bulk() (one document without a message, which is
refused alone) and index() of one document with an id.

    python_client.py URL SERVICE

URL is the API's root (http://host:9200, or http://host:8080/es). Prints one JSON object:
what the client read back (the version, the bulk outcome, the index answer).
"""

import json
import sys

from elasticsearch import Elasticsearch, helpers


def main():
    url, service = sys.argv[1], sys.argv[2]
    client = Elasticsearch(url, request_timeout=10)
    info = client.info()

    actions = [
        # ECS fields, nested; the service is the index without its date.
        {
            "_index": f"{service}-2026.05.05",
            "_source": {
                "@timestamp": "2026-05-05T10:00:00.250Z",
                "message": "card declined",
                "log": {"level": "warning", "logger": "payments"},
                "trace": {"id": "4bf92f3577b34da6a3ce929d0e0e4736"},
                "user": {"id": 42, "vip": False},
                "tags": ["card", "eu"],
            },
        },
        # Dotted keys, an explicit service, a create with an id.
        {
            "_op_type": "create",
            "_index": "ignored-index",
            "_id": "order-7",
            "_source": {
                "timestamp": "2026-05-05T10:00:01Z",
                "msg": "order shipped",
                "service.name": f"{service}-shipping",
                "severity": "notice",
                "amount": 12.5,
            },
        },
        # No message field: refused alone.
        {"_index": service, "_source": {"text": "no message field", "level": "error"}},
        # pino's shape: numeric level, epoch milliseconds.
        {
            "_index": service,
            "_source": {"time": 1777975202000, "level": 50, "msg": "ledger unreachable", "pid": 7},
        },
    ]
    stored, errors = helpers.bulk(client, actions, raise_on_error=False, stats_only=False)
    single = client.index(
        index=service,
        id="single-1",
        document={"@timestamp": "2026-05-05T10:00:03Z", "message": "one document", "level": "DEBUG"},
    )
    print(
        json.dumps(
            {
                "version": info["version"]["number"],
                "tagline": info["tagline"],
                "stored": stored,
                "errors": errors,
                "single": {"result": single["result"], "_id": single["_id"], "_index": single["_index"]},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
