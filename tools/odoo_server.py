"""Starting Odoo from the tools' scripts (bench.py, render_invoice_samples.py):
the command-line options of a database and an HTTP server on a free port."""

import contextlib
import os
import shlex
import socket
import subprocess
import sys
import time


def odoo_options(db):
    addons = os.environ.get("SB_ADDONS_PATH")
    if not addons:
        sys.exit("SB_ADDONS_PATH is not set: run `make bench`, or see the script")
    return [
        f"--addons-path={addons}",
        *shlex.split(os.environ.get("SB_ODOO_DB_ARGS", "")),
        "-d",
        db,
        "--log-level=warn",
        "--max-cron-threads=0",
    ]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def http_server(options):
    """wkhtmltopdf fetches the report's assets over HTTP: serve the database on
    a free loopback port while PDFs are rendered."""
    port = free_port()
    python = os.environ.get("SB_PYTHON", sys.executable)
    server = subprocess.Popen(
        [
            python,
            "-m",
            "odoo",
            *options,
            f"--http-port={port}",
            "--http-interface=127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for __ in range(120):
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=1),
            ):
                break
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
