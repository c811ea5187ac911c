#!/usr/bin/env python3
"""A test-only ClickHouse HTTP front for chdb (ClickHouse 26.9 embedded in a Python wheel).

No ClickHouse server binary can be installed on our build machines, but chdb runs the real engine
in-process. This front speaks enough of ClickHouse's HTTP interface for the `clickhouse` Rust crate:

- POST/GET `/?query=...&database=...&default_format=...&param_x=...&<setting>=...`;
- the query in the URL and data in the body (INSERT ... FORMAT X): the body is spliced from the socket
  into a FIFO that chdb reads (`INSERT ... FROM INFILE`) as it arrives;
- the query in the body (plain or multipart/form-data with `param_*` fields);
- errors as HTTP 500 with `X-ClickHouse-Exception-Code`, like the real server.
- `/ping` answers `Ok.` (the real server's health check).

Settings are applied with SET for the one query and reset afterwards; queries run one at a time
(one chdb session owns the database directory), an insert while its body arrives. Usage:

    chdb_server.py --path DIR [--port 0] [--config-file FILE.xml]

prints `listening on <port>` once ready, then serves until killed.
"""

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import chdb.session

# URL parameters that are not ClickHouse settings.
NOT_SETTINGS = {"query", "database", "default_format", "decompress", "compress", "user", "password",
                "query_id", "session_id", "role", "wait_end_of_query"}
INSERT_FORMAT = re.compile(r"^(\s*INSERT\s+INTO\s.*?)\s+FORMAT\s+(\w+)\s*$", re.IGNORECASE | re.DOTALL)
HAS_FORMAT = re.compile(r"\sFORMAT\s+\w+\s*;?\s*$", re.IGNORECASE)
EXCEPTION_CODE = re.compile(r"Code:\s*(\d+)")
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Bodies are moved in pieces of this size.
PIECE = 1 << 20

LOCK = threading.Lock()
SESSION = None


def multipart_fields(content_type, body):
    """The fields of a multipart/form-data body (the clickhouse crate sends the query and its params so)."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type).group(1).encode()
    fields = {}
    for part in body.split(b"--" + boundary):
        if b"\r\n\r\n" not in part:
            continue
        head, value = part.split(b"\r\n\r\n", 1)
        name = re.search(rb'name="([^"]+)"', head)
        if name:
            fields[name.group(1).decode()] = value[:-2].decode() if value.endswith(b"\r\n") else value.decode()
    return fields


def sql_string(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def run(query, data, params):
    """Runs one request (`data`: the path of an INSERT's data, or None); returns the result bytes.
    Raises on a ClickHouse error."""
    settings = {k: v for k, v in params.items() if k not in NOT_SETTINGS and not k.startswith("param_")}
    bind = {k[len("param_"):]: v for k, v in params.items() if k.startswith("param_")}
    fmt = params.get("default_format", "TabSeparated")
    insert = INSERT_FORMAT.match(query)
    if insert and data:
        query = f"{insert.group(1)} FROM INFILE {sql_string(data)} FORMAT {insert.group(2)}"
    elif HAS_FORMAT.search(query):
        fmt = "TabSeparated"  # the query names its own format; chdb's argument is then ignored
    with LOCK:
        for name, value in settings.items():
            if not SETTING_NAME.match(name):
                raise ValueError(f"Code: 115. DB::Exception: Unknown setting {name!r}")
            SESSION.query(f"SET {name} = {sql_string(value)}")
        try:
            if "database" in params and params["database"]:
                SESSION.query(f"USE {params['database']}")
            result = SESSION.query(query, fmt, params=bind or None)
        finally:
            for name in settings:
                SESSION.query(f"SET {name} = DEFAULT")
            SESSION.query("USE default")
    return result.bytes() if result is not None else b""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Unbuffered: an INSERT's body is spliced from the socket itself, so no read may run ahead of it.
    rbufsize = 0

    def log_message(self, *args):
        pass

    def reply(self, status, payload, code=None):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        if code is not None:
            self.send_header("X-ClickHouse-Exception-Code", str(code))
        self.end_headers()
        self.wfile.write(payload)

    def handle_query(self, body):
        self.reply(*self.answer(body))

    def answer(self, body, data=None):
        """(status, payload, exception code) for this request, `data` naming an INSERT's data."""
        url = urlsplit(self.path)
        if url.path == "/ping":
            return 200, b"Ok.\n", None
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        ctype = self.headers.get("Content-Type", "")
        if "query" in params:
            query = params["query"]
        elif ctype.startswith("multipart/form-data"):
            fields = multipart_fields(ctype, body)
            query = fields.pop("query", "")
            params.update(fields)
        else:
            query = body.decode()
        try:
            return 200, run(query, data, params), None
        except Exception as e:  # a ClickHouse error: report it as the real server does
            message = str(e)
            code = EXCEPTION_CODE.search(message)
            return 500, message.encode(), code.group(1) if code else 1001

    def do_GET(self):
        self.handle_query(b"")

    def do_POST(self):
        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True)).get("query", "")
        if not INSERT_FORMAT.match(query):
            return self.handle_query(b"".join(self.body_pieces()))
        if not self.chunked() and not int(self.headers.get("Content-Length") or 0):
            return self.handle_query(b"")
        # chdb reads an INSERT's data from a FIFO while a thread moves the body into it from the socket
        # (`splice`, kernel to kernel), as a server parses an insert while it arrives: the data is
        # never held whole, nor copied through Python or a file.
        with tempfile.TemporaryDirectory(prefix="chdb-insert-") as tmp:
            fifo = os.path.join(tmp, "data")
            os.mkfifo(fifo)
            failed = []
            feeder = threading.Thread(target=self.feed, args=(fifo, failed))
            feeder.start()
            try:
                answer = self.answer(b"", fifo)
            finally:
                # Wakes a feeder still waiting to open the FIFO (chdb failed before reading it).
                os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
                feeder.join()
        if failed:
            raise failed[0]  # the client hung up: nobody to answer
        self.reply(*answer)

    def feed(self, fifo, failed):
        """Moves the request body from the socket into `fifo`; once chdb stops reading (an error), the
        rest is read and dropped so the connection stays in step. Errors go to `failed`."""
        out = None
        try:
            out = os.open(fifo, os.O_WRONLY)
            for size in self.body_spans():
                while size > 0:
                    try:
                        moved = (os.splice(self.connection.fileno(), out, min(size, PIECE)) if out is not None
                                 else len(self.rfile.read(min(size, PIECE))))
                    except BrokenPipeError:
                        os.close(out)
                        out = None
                        continue
                    if not moved:
                        raise ConnectionError("the body ended early")
                    size -= moved
        except Exception as e:
            failed.append(e)
        finally:
            if out is not None:
                os.close(out)

    def chunked(self):
        return self.headers.get("Transfer-Encoding", "").lower() == "chunked"

    def body_spans(self):
        """The sizes of the body's pieces (plain: one; chunked: one per chunk); the caller reads each
        piece before asking for the next."""
        if not self.chunked():
            yield int(self.headers.get("Content-Length") or 0)
            return
        while (size := int(self.rfile.readline().strip().split(b";")[0], 16)) > 0:
            yield size
            self.rfile.readline()
        self.rfile.readline()

    def body_pieces(self):
        """The request body, in pieces of at most `PIECE` bytes."""
        for size in self.body_spans():
            while size > 0:
                data = self.rfile.read(min(size, PIECE))
                if not data:
                    raise ConnectionError("the body ended early")
                size -= len(data)
                yield data


def main():
    global SESSION
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", required=True, help="database directory (created if missing)")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--config-file", help="ClickHouse server configuration (XML) to apply, e.g. disk settings")
    args = ap.parse_args()
    SESSION = chdb.session.Session(f"{args.path}?config-file={args.config_file}" if args.config_file else args.path)
    # A restart on the same port can race the previous process releasing it.
    for attempt in range(100):
        try:
            server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
            break
        except OSError:
            if attempt == 99:
                raise
            time.sleep(0.1)
    server.daemon_threads = True
    # A client that hung up (a test killed it) is not an error worth a traceback.
    default_handle_error = server.handle_error
    server.handle_error = lambda request, address: (
        None if isinstance(sys.exc_info()[1], ConnectionError)
        else default_handle_error(request, address))
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        SESSION.close()


if __name__ == "__main__":
    sys.exit(main())
