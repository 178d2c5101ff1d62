"""Schemathesis hooks of scripts/schemathesis.sh.

POST /publish also takes NDJSON (application/x-ndjson): one event object per line. The OpenAPI
document states such a body as the array of the events its lines hold (OpenAPI cannot say
"lines"), so this serializer writes each generated item as one JSON line. A generated value that
is not an array (negative tests) becomes a single line, which the server must refuse.
"""
import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode("utf-8")
