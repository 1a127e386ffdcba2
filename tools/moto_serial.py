"""moto's server, handling one request at a time.

moto's backends are not thread-safe: with its default threaded server, two concurrent TransactWriteItems on the same
key can both pass their conditions. DynamoDB serialises them, so the tests need an emulator that does too. Requests
are still accepted concurrently; only their handling is serialised.

moto's base-table Query sorts the whole table on every call (`Table.all_items`), so a Query against a table of
300,000 items takes about a second. Here a base-table Query looks only at its own partition: the same results,
in the same order, at a cost independent of the table's size (what DynamoDB does too). An index Query looks only at
the items whose index partition key matches: moto's scan of the table is done once per table change and index
(grouping, no sorting) and reused by every index Query until the next change; the results are moto's own.

moto's TransactWriteItems deep-copies the whole table (once per item of the transaction) to roll back a cancelled
transaction: at 100,000 items that is about a second of CPU and hundreds of MB of garbage per call, and the load test
(tests/localdev/tests/load_isolation.rs) saw moto grow by 1 GB a minute. Here the transaction copies only the items
it names and puts them back when moto cancels it: the same results, at a cost independent of the table's size.

moto answers every request through a generic serializer that walks the service's model with attribute pickers: for
DynamoDB's items that is most of moto's CPU (80 % in the Genesys fault suite, where moto is the bottleneck). Here an
item (a map of `AttributeValue`) is written straight from moto's plain values, the way that serializer writes it;
any other value, and every other service, goes through moto's serializer. `MOTO_SERIAL_CHECK=1` serializes each
item both ways and fails the request (HTTP 500) when they differ.

moto's Secrets Manager keeps the version a read without a version id or stage answers apart from the `AWSCURRENT`
label, and `UpdateSecretVersionStage` moves only the label: a read of the current version then still answered the
version put last, and the next put without labels left `AWSCURRENT` on two versions. Here moving `AWSCURRENT` with
`UpdateSecretVersionStage` moves that version too, as in Secrets Manager (one current version, the one labelled).
moto also takes a `PutSecretValue` into a secret scheduled for deletion, which Secrets Manager refuses
(`InvalidRequestException`, "The secret is scheduled for deletion" in its model): here it is refused too.

Connections are kept alive (HTTP/1.1), as AWS keeps them: werkzeug's development server answers every request with
`Connection: close`, so every call of a client opened a new TCP connection (connect, accept, a new HTTP connection
in the client). Here a request's body is read whole before the application sees it, so the stream is always at
the next request line when the answer is sent; a chunked request or `Expect: 100-continue` is left to werkzeug's
own handling (which closes the connection).

usage: python moto_serial.py -H 127.0.0.1 -p PORT [--no-request-log]
(-p 0: a free port, printed on stdout as `moto_serial: listening on HOST:PORT`.)
(--no-request-log: no line per request on stderr; the tests' harness, which drops moto's output, passes it.)
"""

import argparse
import base64
import copy
import io
import os
import socket
import threading

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.core.serialize import BaseJSONSerializer
from moto.secretsmanager.exceptions import InvalidRequestException
from moto.secretsmanager.models import SecretsManagerBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.exceptions import InternalServerError
from werkzeug.serving import make_server

_moto_query = Table.query
_moto_all_items = Table.all_items


# Bumped by every request that is not a pure read (all requests are handled one at a time, see `main`): an index's
# grouping of the table is reused only while nothing can have changed it.
_WRITE_VERSION = 0
_READS = frozenset(
    f"DynamoDB_20120810.{action}"
    for action in (
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "DescribeTable",
        "ListTables",
        "DescribeTimeToLive",
        "DescribeContinuousBackups",
        "ListTagsOfResource",
    )
)


def _index_partition(table, index_name, hash_attr, hash_value):
    """The items of one partition of a single-attribute index, from the table's grouping by that attribute."""
    cache = table.__dict__.setdefault("_index_groups", {})
    cached = cache.get(index_name)
    if cached is None or cached[0] != _WRITE_VERSION:
        groups = {}
        for partition in table.items.values():
            for item in partition.values() if table.range_key_attr else [partition]:
                value = item.attrs.get(hash_attr)
                if value is not None:
                    groups.setdefault(value, []).append(item)
        cached = (_WRITE_VERSION, groups)
        cache[index_name] = cached
    return list(cached[1].get(hash_value, ()))


def _all_items(self):
    index = getattr(self, "_query_index", None)
    if index is not None:
        return _index_partition(self, *index)
    partition = getattr(self, "_query_partition", None)
    if partition is None or not self.range_key_attr:
        return _moto_all_items(self)
    items = self.items.get(partition)  # .get: `items` is a defaultdict, a miss must not create a partition
    return sorted(items.values(), key=lambda item: item.range_key) if items else []


def _query(self, hash_key, *args, **kwargs):
    index_name = kwargs["index_name"] if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
    if index_name is not None:
        index = next((i for i in self.all_indexes() if i.name == index_name), None)
        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"] if index is not None else []
        conditions = dict(kwargs.get("hash_key_conditions") or [])
        value = conditions.get(hashes[0], hash_key) if len(hashes) == 1 else None
        if value is None:
            return _moto_query(self, hash_key, *args, **kwargs)
        self._query_index = (index_name, hashes[0], value)
        try:
            return _moto_query(self, hash_key, *args, **kwargs)
        finally:
            self._query_index = None
    if hash_key is None:
        return _moto_query(self, hash_key, *args, **kwargs)
    self._query_partition = hash_key
    try:
        return _moto_query(self, hash_key, *args, **kwargs)
    finally:
        self._query_partition = None


Table.all_items = _all_items
Table.query = _query


class _TablesByReference:
    """moto's `copy` module inside its DynamoDB backend: a table is "copied" by reference (the transaction below keeps
    its own copies of the items it names), everything else as before."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_moto_transact_write_items = DynamoDBBackend.transact_write_items


def _item_slot(table, attrs):
    """`(partition key, sort key)` of the item a transaction entry names, as moto keys its `items`; None when the
    entry is malformed (moto then refuses the transaction before writing anything)."""
    if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
        return None
    hash_key = DynamoType(attrs[table.hash_key_attr])
    if table.range_key_attr is None:
        return hash_key, None
    if table.range_key_attr not in attrs:
        return None
    return hash_key, DynamoType(attrs[table.range_key_attr])


def _transact_write_items(self, transact_items):
    saved = []  # (table, partition key, sort key, the item before the transaction or None)
    for entry in transact_items if isinstance(transact_items, list) else []:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue
        op_type, op = next(iter(entry.items()))
        table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        if table is None:
            continue
        slot = _item_slot(table, op.get("Item") if op_type == "Put" else op.get("Key"))
        if slot is None:
            continue
        hash_key, range_key = slot
        partition = table.items.get(hash_key)  # .get: no partition may be created here
        if partition is None:
            before = None
        elif range_key is None:
            before = partition
        else:
            before = partition.get(range_key)
        saved.append((table, hash_key, range_key, copy.deepcopy(before)))
    moto_copy = dynamodb_models.copy
    dynamodb_models.copy = _TablesByReference
    try:
        return _moto_transact_write_items(self, transact_items)
    except Exception:
        # moto cancelled the transaction: its own rollback put back the same table objects, so put back each item.
        for table, hash_key, range_key, before in reversed(saved):
            if range_key is None:
                if before is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = before
            elif before is None:
                partition = table.items.get(hash_key)
                if partition is not None:
                    partition.pop(range_key, None)
                    if not partition:
                        del table.items[hash_key]
            else:
                table.items[hash_key][range_key] = before
        raise
    finally:
        dynamodb_models.copy = moto_copy


DynamoDBBackend.transact_write_items = _transact_write_items


_SLOW = object()  # an AttributeValue the fast path does not write: moto's serializer does


def _b64(value):
    return base64.b64encode(value).strip().decode("utf-8") if isinstance(value, bytes) else _SLOW


def _each(values, write):
    """`write` of each value of a list; `_SLOW` when it is not a list or one of them is."""
    if type(values) is not list:
        return _SLOW
    written = [write(v) for v in values]
    return _SLOW if any(v is _SLOW for v in written) else written


def _attribute_value(value):
    """An `AttributeValue` as moto's JSON serializer writes it, from moto's plain value (`dynamo_to_dict`): a dict of
    one type key. `_SLOW` for anything else (moto's serializer then decides)."""
    if type(value) is not dict or len(value) != 1:
        return _SLOW
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return {kind: inner} if type(inner) is str else _SLOW
    if kind == "M":
        written = _attribute_map(inner)
        return _SLOW if written is _SLOW else {"M": written}
    if kind in ("L", "BS"):
        written = _each(inner, _attribute_value if kind == "L" else _b64)
        return _SLOW if written is _SLOW else {kind: written}
    if kind in ("BOOL", "NULL"):
        return {kind: inner} if type(inner) is bool else _SLOW
    if kind in ("SS", "NS"):
        return {kind: list(inner)} if type(inner) is list and all(type(v) is str for v in inner) else _SLOW
    if kind == "B":
        written = _b64(inner)
        return _SLOW if written is _SLOW else {"B": written}
    return _SLOW


def _attribute_map(value):
    if type(value) is not dict:
        return _SLOW
    written = {}
    for name, attribute in value.items():
        if type(name) is not str:
            return _SLOW
        one = _attribute_value(attribute)
        if one is _SLOW:
            return _SLOW
        written[name] = one
    return written


_CHECK = os.environ.get("MOTO_SERIAL_CHECK") == "1"
_FAST_SERVICES = frozenset(("dynamodb", "dynamodbstreams"))


def _fast_path(moto_method, applies, write):
    """A serializer method that writes a value with `write` where `applies(shape, key)` (DynamoDB only), else as moto
    does. With MOTO_SERIAL_CHECK=1, moto's own serialization of the same value must be equal."""

    def method(self, serialized, value, shape, key):
        if applies(shape, key) and self.operation_model.service_model.service_name in _FAST_SERVICES:
            written = write(value)
            if written is not _SLOW:
                name = self.get_serialized_name(shape, key)
                if _CHECK:
                    reference = {}
                    moto_method(self, reference, value, shape, key)
                    if reference.get(name, _SLOW) != written:
                        raise AssertionError(f"moto_serial: {shape.name} written {written!r}, moto: {reference!r}")
                serialized[name] = written
                return
        moto_method(self, serialized, value, shape, key)

    return method


# An item or key (a map of AttributeValue), and an AttributeValue inside a list or map.
BaseJSONSerializer._serialize_type_map = _fast_path(
    BaseJSONSerializer._serialize_type_map, lambda shape, key: shape.value.name == "AttributeValue", _attribute_map
)
BaseJSONSerializer._serialize_type_structure = _fast_path(
    BaseJSONSerializer._serialize_type_structure,
    lambda shape, key: bool(key) and shape.name == "AttributeValue",
    _attribute_value,
)


class _KeepAliveHandler(MotoRequestHandler):
    """moto's request handler without werkzeug's forced `Connection: close` (and without its drain of the socket after
    the answer, which on a kept-alive connection would read and drop the next request)."""

    protocol_version = "HTTP/1.1"
    log_requests = True

    def log_request(self, code="-", size="-"):
        if self.log_requests:
            super().log_request(code, size)

    def setup(self):
        super().setup()
        # The status line and headers, then the body, are two writes: without this, Nagle's algorithm holds the
        # body until the client acknowledges the headers (a delayed ACK: up to 40 ms a request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self):
        if self.headers.get("Transfer-Encoding") or self.headers.get("Expect", "").strip().lower() == "100-continue":
            return super().run_wsgi()  # werkzeug's own handling, which closes the connection
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "bad Content-Length")
            self.close_connection = True
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-body
            self.close_connection = True
            return None
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        answer = []

        def start_response(status, headers, exc_info=None):
            answer[:] = [status, headers]
            return lambda data: answer.append(data)  # WSGI's legacy write(): kept in order with the body

        try:
            chunks = self.server.app(environ, start_response)
            try:
                out = b"".join([*answer[2:], *chunks])
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        except Exception as e:  # like werkzeug: a 500 answer, the error logged; this connection is not reused
            self.close_connection = True
            self.server.log("error", f"Error on request: {e!r}")
            answer.clear()
            out = b"".join(InternalServerError()(environ, start_response))
        status, headers = answer[0], answer[1]
        code, _, reason = status.partition(" ")
        code = int(code)
        self.send_response(code, reason)
        names = set()
        for name, value in headers:
            if name.lower() in ("connection", "transfer-encoding"):
                continue
            names.add(name.lower())
            self.send_header(name, value)
        if "content-length" not in names and not (code < 200 or code in (204, 304)):
            self.send_header("Content-Length", str(len(out)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and out:
            self.wfile.write(out)
        return None


_moto_update_secret_version_stage = SecretsManagerBackend.update_secret_version_stage


def _update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
    """moto's `UpdateSecretVersionStage`, and the version a read without a version id answers follows `AWSCURRENT`."""
    arn, name = _moto_update_secret_version_stage(
        self, secret_id, version_stage, remove_from_version_id, move_to_version_id
    )
    if version_stage == "AWSCURRENT" and move_to_version_id:
        self.secrets[name].set_default_version_id(move_to_version_id)
    return arn, name


SecretsManagerBackend.update_secret_version_stage = _update_secret_version_stage

_moto_put_secret_value = SecretsManagerBackend.put_secret_value


def _put_secret_value(self, secret_id, *args, **kwargs):
    """moto's `PutSecretValue`, refused for a secret scheduled for deletion, as Secrets Manager refuses it."""
    if self._is_valid_identifier(secret_id) and self.secrets[secret_id].is_deleted():
        raise InvalidRequestException(
            "You can't perform this operation on the secret because it was marked for deletion."
        )
    return _moto_put_secret_value(self, secret_id, *args, **kwargs)


SecretsManagerBackend.put_secret_value = _put_secret_value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--no-request-log", action="store_true")
    args = parser.parse_args()
    _KeepAliveHandler.log_requests = not args.no_request_log

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        global _WRITE_VERSION
        with lock:
            if environ.get("HTTP_X_AMZ_TARGET") not in _READS:
                _WRITE_VERSION += 1
            return list(app(environ, start_response))

    server = make_server(args.host, args.port, serialised, threaded=True, request_handler=_KeepAliveHandler)
    # With `-p 0` the system picks a free port: this line tells which (the tests' harness waits for it, so no other
    # process can take the port between its choice and moto's start).
    print(f"moto_serial: listening on {args.host}:{server.port}", flush=True)
    # Anything printed later goes where the logs go: the harness stops reading stdout after that line, and a print
    # into its closed pipe would fail the request that made it.
    os.dup2(2, 1)
    server.serve_forever()


if __name__ == "__main__":
    main()
