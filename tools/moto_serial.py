"""moto's server, handling one request at a time.

moto's backends are not thread-safe: with its default threaded server, two concurrent TransactWriteItems on the same
key can both pass their conditions. DynamoDB serialises them, so the tests need an emulator that does too. Requests
are still accepted concurrently; only their handling is serialised.

moto's base-table Query sorts the whole table on every call (`Table.all_items`), so a Query against a table of
300,000 items takes about a second. Here a base-table Query looks only at its own partition: the same results,
in the same order, at a cost independent of the table's size (what DynamoDB does too). Index queries and everything
else are moto's own.

usage: python moto_serial.py -H 127.0.0.1 -p PORT
"""

import argparse
import threading

from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

_moto_query = Table.query
_moto_all_items = Table.all_items


def _all_items(self):
    partition = getattr(self, "_query_partition", None)
    if partition is None or not self.range_key_attr:
        return _moto_all_items(self)
    items = self.items.get(partition)  # .get: `items` is a defaultdict, a miss must not create a partition
    return sorted(items.values(), key=lambda item: item.range_key) if items else []


def _query(self, hash_key, *args, **kwargs):
    index_name = kwargs["index_name"] if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
    if index_name is not None or hash_key is None:
        return _moto_query(self, hash_key, *args, **kwargs)
    self._query_partition = hash_key
    try:
        return _moto_query(self, hash_key, *args, **kwargs)
    finally:
        self._query_partition = None


Table.all_items = _all_items
Table.query = _query


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    run_simple(args.host, args.port, serialised, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
