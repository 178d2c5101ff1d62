"""Schemathesis hooks of scripts/schemathesis.sh.

GET /events takes a cursor only with the topic it came from, and a search query in a language
of its own (see map_query below).

POST /publish also takes NDJSON (application/x-ndjson): one event object per line. The OpenAPI
document states such a body as the array of the events its lines hold (OpenAPI cannot say
"lines"), so this serializer writes each generated item as one JSON line. A generated value that
is not an array (negative tests) becomes a single line, which the server must refuse.
"""
import json
import re

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode("utf-8")


# A topic cursor of GET /events (`<seq>.<hex of the topic>`) continues only the listing of its
# own topic: with `topic`, a cursor of another topic is refused (400), which no JSON Schema can
# state (it relates two parameters). A generated request whose cursor is well formed is given the
# cursor of its own topic at the same position; any other request, including every negative one
# whose fault is elsewhere, is left as generated.
TOPIC_CURSOR = re.compile(r"^[0-9]{1,18}\.(?:[0-9a-f]{2})*$")


# A search query (`q`) is a language no JSON Schema can state: the document gives only its length
# and that it holds no NUL, and the parser's own property tests cover the rest. A generated `q`
# within those bounds becomes the words it holds (ASCII letters and digits, lowercase, so that
# no word reads as AND, OR or NOT), which is always a valid query; without such words it is
# dropped (an empty query matches every event). A `q` outside the bounds is left to be refused.
SEARCH_WORD = re.compile(r"[A-Za-z0-9]+")
MAX_SEARCH_CHARS = 4096


def search_words(q):
    return " ".join(word.lower() for word in SEARCH_WORD.findall(q)[:20])


@schemathesis.hook
def map_query(ctx, query):
    operation = getattr(ctx, "operation", None)
    if operation is None or not isinstance(query, dict):
        return query
    if operation.path in ("/events/count", "/events/values"):
        return with_countable_field(with_search_words(query))
    if operation.path == "/fields":
        return with_search_words(query)
    if operation.path != "/events":
        return query
    query = with_search_words(query)
    topic, cursor = query.get("topic"), query.get("cursor")
    if isinstance(topic, str) and topic and isinstance(cursor, str) and TOPIC_CURSOR.match(cursor):
        seq = cursor.split(".", 1)[0]
        query = dict(query, cursor=f"{seq}.{topic.encode('utf-8').hex()}")
    return with_order_of_cursor(query)


def with_search_words(query):
    q = query.get("q")
    if isinstance(q, str) and "\0" not in q and len(q) <= MAX_SEARCH_CHARS:
        query = dict(query, q=search_words(q))
    return query


# `by` and `field` name a field whose values can be counted: any name of the pattern but
# `timestamp` (which has no values to count) and a bare `payload` (which names no field inside the
# payload), which become `level`.
UNCOUNTABLE = ("timestamp", "payload")


def with_countable_field(query):
    for name in ("by", "field"):
        if query.get(name) in UNCOUNTABLE:
            query = dict(query, **{name: "level"})
    return query


# A cursor continues only the order it came from: a time cursor (`n.` newest, `o.` oldest first)
# its time order, a topic cursor the order by topic. The order in force is `order`, or, when it is
# empty, newest first for a search without `topic` and by topic otherwise. A generated request
# whose well-formed cursor belongs to another order than the one in force asks for its order.
TIME_CURSOR = re.compile(r"^([no])\.-?[0-9]{1,18}\.[0-9]{1,18}$")
ORDERS = ("newest", "oldest", "topic")


def with_order_of_cursor(query):
    order, cursor = query.get("order"), query.get("cursor")
    if not isinstance(cursor, str) or (order not in (None, "") + ORDERS):
        return query
    searching = isinstance(query.get("q"), str) and query.get("q") != ""
    one_topic = isinstance(query.get("topic"), str) and query.get("topic") != ""
    in_force = order or ("newest" if searching and not one_topic else "topic")
    time = TIME_CURSOR.match(cursor)
    if time:
        wanted = "newest" if time.group(1) == "n" else "oldest"
    elif TOPIC_CURSOR.match(cursor):
        wanted = "topic"
    else:
        return query
    return query if wanted == in_force else dict(query, order=wanted)
