"""schemathesis hooks of scripts/fuzz-api: the constraints of infra/openapi.yaml that JSON Schema cannot state.

- A `cursor` is a `next_cursor` the API returned (the spec: opaque); any other is refused (400) by design, so a
  generated non-empty cursor is not sent (an empty one, which the schema refuses, still is).
- `from` < `to` <= `from` + 31 days (GET /queues/{id}/intervals, GET /agent-states; the spec says so in words). A
generated pair of valid date-times gets `to` moved to the first day on which it falls after `from`, keeping its own
time of day and offset, so whatever else makes it valid or invalid (the quarter-hour pattern, the format) stays as
generated.
"""

from datetime import datetime, timedelta

import schemathesis


def _parse(value):
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None


@schemathesis.hook
def map_query(context, query):
    if not isinstance(query, dict):
        return query
    if isinstance(query.get("cursor"), str) and query["cursor"] != "":
        query = {k: v for k, v in query.items() if k != "cursor"}
    if "from" not in query or "to" not in query:
        return query
    start, end = _parse(query["from"]), _parse(query["to"])
    if start is None or end is None or start.tzinfo is None or end.tzinfo is None or len(query["to"]) < 10:
        return query
    try:
        day = start.astimezone(end.tzinfo).date() - timedelta(days=1)
        for _ in range(4):
            candidate = datetime.fromisoformat(day.isoformat() + query["to"][10:].replace("z", "Z"))
            if candidate > start:
                return {**query, "to": day.isoformat() + query["to"][10:]}
            day += timedelta(days=1)
    except (ValueError, OverflowError):
        pass
    return query
