"""schemathesis hooks of scripts/fuzz-api: the constraints of infra/openapi.yaml that JSON Schema cannot state.

- A `cursor` is a `next_cursor` the API returned (the spec: opaque); any other is refused (400) by design, so a
  generated non-empty cursor is not sent (an empty one, which the schema refuses, still is).
- `from` < `to` <= `from` + 31 days (GET /queues/{id}/intervals, GET /agent-states; the spec says so in words). A
generated pair of valid date-times gets `to` moved to the first day on which it falls after `from`, keeping its own
time of day and offset, so whatever else makes it valid or invalid (the quarter-hour pattern, the format) stays as
generated; when no such day exists (`from` late on 9999-12-31), `from` is moved before `to` instead. Year 0000
(valid RFC 3339, beyond Python's datetime) becomes 0004 first.
- An Amazon Connect `agent_event_stream_arn` names the same region as the settings' `region` (the spec says so in
  words): a generated ARN gets the region part replaced by the generated `region`, keeping everything else.
"""

import re
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
    # Year 0000 is a valid RFC 3339 date-time (the API takes it) that Python's datetime cannot hold: such a value is
    # moved to year 0004 (also a leap year, so the same month and day exist) before the pair is put in order.
    for key in ("from", "to"):
        if isinstance(query[key], str) and query[key].startswith("0000-"):
            query = {**query, key: "0004-" + query[key][5:]}
    start, end = _parse(query["from"]), _parse(query["to"])
    if start is None or end is None or start.tzinfo is None or end.tzinfo is None or len(query["to"]) < 10:
        return query
    moved = _moved_after(query["to"], end.tzinfo, start, +1)
    if moved is not None:
        return {**query, "to": moved}
    # No `to` after `from` in the calendar (`from` late on 9999-12-31): move `from` before `to` the same way.
    moved = _moved_after(query["from"], start.tzinfo, end, -1)
    if moved is not None:
        return {**query, "from": moved}
    return query


def _moved_after(raw, tz, other, direction):
    """`raw` on the day nearest to `other` (in `raw`'s own offset `tz`) on which it falls after `other`
    (`direction` +1) or before it (-1), keeping its time of day and offset text; None when no such day exists."""
    try:
        base = other.astimezone(tz).date()
    except (ValueError, OverflowError):
        base = other.date()
    # Each day on its own: at the ends of the calendar (0001-01-01, 9999-12-31) a neighbouring day does not exist,
    # and one that does not must not end the search (a `from` of 0001-01-01T00:00:00-00:00 once kept a `to` of 2000).
    for shift in (-2, -1, 0, 1, 2)[::direction]:
        try:
            day = base + timedelta(days=shift)
            candidate = datetime.fromisoformat(day.isoformat() + raw[10:].replace("z", "Z"))
        except (ValueError, OverflowError):
            continue
        if (candidate > other) if direction > 0 else (candidate < other):
            return day.isoformat() + raw[10:]
    return None


_STREAM_REGION = re.compile(r"(arn:aws:kinesis:)[a-z0-9-]+(:)")


@schemathesis.hook
def map_body(context, body):
    if not isinstance(body, dict) or not isinstance(body.get("settings"), dict):
        return body
    settings = body["settings"]
    arn, region = settings.get("agent_event_stream_arn"), settings.get("region")
    if not isinstance(arn, str) or not isinstance(region, str):
        return body
    moved = _STREAM_REGION.sub(lambda m: m.group(1) + region + m.group(2), arn, count=1)
    return {**body, "settings": {**settings, "agent_event_stream_arn": moved}}
