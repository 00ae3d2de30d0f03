"""Helpers of the tests that run the sending in other OS processes on
committed data: contracts of customers paying by transfer on a company with an
IBAN (so that the invoice PDF carries the SEPA QR code), and a watch of the
database sessions waiting for a lock."""

import contextlib
import html
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

import odoo
from odoo import Command
from odoo.tools import SQL


class LockWatch:
    """Poll pg_stat_activity while it runs (a thread with its own cursor) and
    keep the longest wait of a session of this database for a lock."""

    def __init__(self, registry, interval=0.25):
        self.registry = registry
        self.interval = interval
        self.longest = 0.0
        self.waits = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def _run(self):
        with self.registry.cursor() as cr:
            while not self._stop.wait(self.interval):
                cr.execute(
                    SQL(
                        """
                        SELECT pid, EXTRACT(EPOCH FROM now() - query_start),
                               left(query, 120)
                          FROM pg_stat_activity
                         WHERE datname = current_database()
                           AND wait_event_type = 'Lock'
                        """
                    )
                )
                for pid, seconds, query in cr.fetchall():
                    if float(seconds) > self.longest:
                        self.longest = float(seconds)
                    if float(seconds) > 3:
                        self.waits.append((pid, round(float(seconds), 1), query))
                cr.rollback()


class IbanCompany:
    """The company prints the SEPA QR code (an IBAN, euros): its transfer
    invoices get ``qr_code_method`` and Odoo's report writes it when rendering."""

    def __init__(self, registry):
        self.registry = registry
        self.saved = {}

    def set_up(self, env):
        company = env.company
        eur = env.ref("base.EUR")
        self.saved = {"eur_active": eur.active, "qr_code": company.qr_code}
        eur.active = True
        company.qr_code = True
        bank = (
            env["res.partner.bank"]
            .with_context(active_test=False)
            .search(
                [
                    ("partner_id", "=", company.partner_id.id),
                    ("acc_number", "=", "FR7630006000011234567890189"),
                ]
            )
        )
        bank.active = True
        if not bank:
            bank = env["res.partner.bank"].create(
                {
                    "acc_number": "FR7630006000011234567890189",
                    "partner_id": company.partner_id.id,
                    "allow_out_payment": True,
                }
            )
        self.saved["bank"] = bank.id
        return eur

    def tear_down(self, env):
        env.company.qr_code = self.saved["qr_code"]
        env.ref("base.EUR").active = self.saved["eur_active"]
        env["res.partner.bank"].browse(self.saved["bank"]).active = False


def create_transfer_contracts(env, count, label, currency, start, **partner_vals):
    """``count`` started monthly one-line contracts in ``currency``, one customer
    each (with an email): return (contracts, partners, product)."""
    plan = env["subscription.plan"].create({"name": label, "company_id": False})
    product = env["product.product"].create(
        {"name": label, "type": "service", "list_price": 10}
    )
    partners = env["res.partner"].create(
        [
            {
                "name": f"{label} {i}",
                "email": f"{label.lower().replace(' ', '')}{i}@example.com",
                **partner_vals,
            }
            for i in range(count)
        ]
    )
    contracts = env["subscription.contract"].create(
        [
            {
                "partner_id": partner.id,
                "plan_id": plan.id,
                "currency_id": currency.id,
                "date_start": start,
                "line_ids": [Command.create({"product_id": product.id})],
            }
            for partner in partners
        ]
    )
    contracts.action_start()
    return contracts, partners, product


def wait_process(process, timeout):
    """(output, return code) of ``process``, killed past ``timeout`` seconds
    (return code None then)."""
    try:
        output, __ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, __ = process.communicate()
        return output, None
    return output, process.returncode


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OdooServer:
    """Odoo in multi-process mode (HTTP workers and a cron worker, as in
    production) on the test database, started in a session of its own."""

    def __init__(self, options, logfile, workers=2, cron_threads=1):
        self.port = free_port()
        self.logfile = logfile
        odoo_bin = Path(odoo.__file__).resolve().parent.parent / "odoo-bin"
        self.command = [
            sys.executable,
            str(odoo_bin),
            *options,
            f"--workers={workers}",
            f"--max-cron-threads={cron_threads}",
            f"--http-port={self.port}",
            f"--gevent-port={free_port()}",
            "--http-interface=127.0.0.1",
            "--limit-time-real=120",
            "--limit-time-real-cron=600",
            f"--logfile={logfile}",
            "--log-level=info",
        ]
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=180):
        self.process = subprocess.Popen(  # noqa: S603 -- Odoo itself
            self.command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/web/login", timeout=10).ok:
                    return
            time.sleep(1)
        raise RuntimeError(f"Odoo did not start: see {self.logfile}")

    def stop(self):
        if not self.process or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def log(self):
        return Path(self.logfile).read_text(errors="replace")


class Timings:
    """Latencies of the clients' requests, by kind, thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_kind = {}
        self.failures = []

    def timed(self, kind, call):
        started = time.monotonic()
        try:
            return call()
        except Exception as error:  # pylint: disable=broad-except
            with self.lock:
                self.failures.append((kind, repr(error)[:200]))
            return None
        finally:
            with self.lock:
                self.by_kind.setdefault(kind, []).append(time.monotonic() - started)

    def all(self):
        return [t for times in self.by_kind.values() for t in times]

    @staticmethod
    def p95(times):
        if not times:
            return 0.0
        times = sorted(times)
        return times[min(len(times) - 1, int(len(times) * 0.95))]


class PortalClient(threading.Thread):
    """A customer browsing the portal until told to stop: login, home, the
    subscriptions, a contract, the invoices and an invoice PDF (one PDF at a
    time among all clients: ``pdf_lock``)."""

    def __init__(self, url, login, password, timings, stop, pdf_lock, pause=2.0):
        super().__init__(daemon=True)
        self.url, self.login, self.password = url, login, password
        self.timings, self.stop_event, self.pause = timings, stop, pause
        self.pdf_lock = pdf_lock

    def _get(self, session, kind, path):
        def call():
            response = session.get(self.url + path, timeout=60)
            response.raise_for_status()
            return response

        return self.timings.timed(kind, call)

    def _log_in(self, session):
        def call():
            page = session.get(f"{self.url}/web/login", timeout=60)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            response = session.post(
                f"{self.url}/web/login",
                data={
                    "login": self.login,
                    "password": self.password,
                    "csrf_token": token.group(1) if token else "",
                    "redirect": "/my",
                },
                timeout=60,
            )
            response.raise_for_status()
            return response

        return self.timings.timed("login", call)

    def run(self):
        session = requests.Session()
        # A connection per request, as the workers serve one at a time: an idle
        # kept-alive connection would be dropped (and logged) by the worker.
        session.headers["Connection"] = "close"
        self._log_in(session)
        pdfs = 0
        while not self.stop_event.is_set():
            self._get(session, "portal", "/my")
            page = self._get(session, "portal", "/my/subscriptions")
            link = r'href="(/my/subscriptions/\d+[^"]*)"'
            match = page and re.search(link, page.text)
            if match:
                self._get(session, "portal", html.unescape(match.group(1)))
            page = self._get(session, "portal", "/my/invoices")
            match = page and re.search(r'href="(/my/invoices/\d+)[?"]', page.text)
            # A PDF now and then (wkhtmltopdf is heavy), one at a time.
            if match and not pdfs % 4 and self.pdf_lock.acquire(blocking=False):
                try:
                    self._get(session, "pdf", f"{match.group(1)}?report_type=pdf")
                finally:
                    self.pdf_lock.release()
            pdfs += 1
            self.stop_event.wait(self.pause)


def json_rpc(url, service, method, *args):
    response = requests.post(
        f"{url}/jsonrpc",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
        },
        timeout=60,
    )
    response.raise_for_status()
    body = response.json()
    if body.get("error"):
        raise RuntimeError(body["error"].get("data", {}).get("message", body))
    return body["result"]
