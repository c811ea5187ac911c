#!/usr/bin/env python3
"""How fast ClickHouse (chdb 26.9, one insert thread) takes Helios's flows_raw rows, by table layout.

1. Runs `helios sim` into `helios-flowd` (release builds, ClickHouse via scripts/chdb_server.py) for
   3 s, then exports 200K of the rows it stored as RowBinary, with the table's DDL.
2. In-process (chdb, no HTTP), inserts those rows 5 times into fresh tables of several layouts and
   prints rows/s: the current layout without views, as RowBinary and as Native; labels as
   LowCardinality(String) instead of String; and the current layout with its materialized views,
   through the HTTP front as the services insert, as RowBinary and as Native.

Usage: perf/clickhouse_insert.py   (builds nothing: run `cargo build --release -p helios -p helios-flowd`)
"""

import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path(os.environ.get("HELIOS_CACHE", pathlib.Path.home() / ".cache/helios"))
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target")) / "release"
PYTHON = CACHE / "venv/bin/python"
ROWS = 200_000
REPEAT = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, sql, body=None, **params):
    query = {"query": sql} if body is not None else {}
    url = f"http://127.0.0.1:{port}/?" + urllib.parse.urlencode({**query, **params})
    req = urllib.request.Request(url, data=body if body is not None else sql.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read()


def export(work):
    ch_port, udp, http = free_port(), free_port(), free_port()
    ch = subprocess.Popen([str(PYTHON), str(ROOT / "scripts/chdb_server.py"), "--path", f"{work}/ch", "--port",
                           str(ch_port)], stdout=subprocess.PIPE)
    ch.stdout.readline()
    flowd = subprocess.Popen([str(TARGET / "helios-flowd"), "--listen", f"127.0.0.1:{udp}", "--http",
                              f"127.0.0.1:{http}", "--clickhouse-url", f"http://127.0.0.1:{ch_port}",
                              "--set", "clickhouse.compression=false"], stderr=subprocess.DEVNULL)
    time.sleep(2)
    subprocess.run([str(TARGET / "helios"), "sim", "--target", f"127.0.0.1:{udp}", "--rate", "100000",
                    "--duration", "3", "--exporters", "8"], capture_output=True, check=True)
    time.sleep(3)
    flowd.terminate()
    flowd.wait()
    cols = post(ch_port, "SELECT arrayStringConcat(groupArray(name), ', ') FROM (SELECT name FROM system.columns "
                         "WHERE database = 'helios' AND table = 'flows_raw' ORDER BY position)").decode().strip()
    body = post(ch_port, f"SELECT {cols} FROM helios.flows_raw LIMIT {ROWS} FORMAT RowBinary")
    native = post(ch_port, f"SELECT {cols} FROM helios.flows_raw LIMIT {ROWS} FORMAT Native")
    pathlib.Path(f"{work}/rows.native").write_bytes(native)
    ddl = post(ch_port, "SELECT create_table_query FROM system.tables WHERE database = 'helios' "
                        "AND name = 'flows_raw' FORMAT TSVRaw").decode().strip()
    pathlib.Path(f"{work}/rows.rb").write_bytes(body)
    t = time.time()
    for i in range(REPEAT):
        post(ch_port, f"INSERT INTO helios.flows_raw ({cols}) FORMAT RowBinary", body,
             insert_deduplication_token=f"bench-{i}")
    print(f"current layout, with views, over HTTP: {REPEAT * ROWS / (time.time() - t):,.0f} rows/s", flush=True)
    t = time.time()
    for i in range(REPEAT):
        post(ch_port, f"INSERT INTO helios.flows_raw ({cols}) FORMAT Native", native,
             insert_deduplication_token=f"bench-native-{i}")
    print(f"current layout, with views, over HTTP, Native format: {REPEAT * ROWS / (time.time() - t):,.0f} rows/s",
          flush=True)
    ch.kill()
    return cols, ddl


def in_process(work, cols, ddl):
    code = f"""
import tempfile, time
from chdb import session
ddl, cols = {ddl!r}, {cols!r}
def run(label, sql, fmt="RowBinary", file="rows.rb"):
    s = session.Session(tempfile.mkdtemp(dir={work!r}))
    s.query("CREATE DATABASE helios")
    s.query(sql)
    t = time.time()
    for _ in range({REPEAT}):
        s.query(f"INSERT INTO helios.flows_raw ({{cols}}) FROM INFILE '{work}/{{file}}' FORMAT {{fmt}}")
    print(f"{{label}}: {{{REPEAT} * {ROWS} / (time.time() - t):,.0f}} rows/s", flush=True)
    s.close()
run("current layout, no views", ddl)
run("current layout, no views, Native format", ddl, "Native", "rows.native")
run("labels LowCardinality(String), no views", ddl.replace(" String CODEC(ZSTD(1))", " LowCardinality(String)"))
"""
    subprocess.run([str(PYTHON), "-c", code], check=True)


def main():
    work = tempfile.mkdtemp(prefix="helios-chinsert-")
    cols, ddl = export(work)
    in_process(work, cols, ddl)


if __name__ == "__main__":
    sys.exit(main())
