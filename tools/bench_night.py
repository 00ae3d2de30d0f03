"""The night's run on Odoo in multi-process mode, for ``make bench``: the same
run (billing, then sending with real PDFs, in the server's cron worker) once
alone and once while customers browse the portal; invoices per second and the
portal's p95 latency side by side, so that a regression in either shows.

Called by bench.py (``night_line``) on its database; NIGHT=<contracts per run>
(default 40), NIGHT_CLIENTS=<portal clients> (default 6), NIGHT=0 to skip."""

import os
import sys
import threading
import time
import uuid
from pathlib import Path

ADDON = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ADDON / "tests"))

from sending_server import OdooServer, PortalClient, Timings  # noqa: E402

PASSWORD = "Bench-night-2027!"  # noqa: S105 -- users of a throwaway database
BILLING = "subscription_billing.ir_cron_subscription_billing"


def _create_run(env, count, clients, label):
    from odoo import Command, fields

    plan = env["subscription.plan"].create({"name": label, "company_id": False})
    product = env["product.product"].create(
        {"name": label, "type": "service", "list_price": 49.0}
    )
    partners = env["res.partner"].create(
        [
            {"name": f"{label} {i}", "email": f"{label.lower()}.{i}@example.com"}
            for i in range(count)
        ]
    )
    users = env["res.users"].create(
        [
            {
                "name": partner.name,
                "login": partner.email,
                "password": PASSWORD,
                "partner_id": partner.id,
                "groups_id": [Command.set(env.ref("base.group_portal").ids)],
            }
            for partner in partners[:clients]
        ]
    )
    today = fields.Date.to_string(env.company._subscription_today())
    contracts = env["subscription.contract"].create(
        [
            {
                "partner_id": partner.id,
                "plan_id": plan.id,
                "date_start": today,
                "line_ids": [Command.create({"product_id": product.id})],
            }
            for partner in partners
        ]
    )
    contracts.action_start()
    return contracts, users.mapped("login")


def _run(registry, server, count, clients, label, timeout=1800):
    """Bill and send ``count`` contracts in the server's cron worker, with
    ``clients`` customers browsing meanwhile (a probe of one request every two
    seconds otherwise): (invoices/s, portal p95 s, requests)."""
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        contracts, logins = _create_run(env, count, max(clients, 1), label)
        cr.commit()
        started = time.monotonic()
        env.ref(BILLING)._trigger()
    timings = Timings()
    stop = threading.Event()
    pdf_lock = threading.Lock()
    browsing = [
        PortalClient(server.url, login, PASSWORD, timings, stop, pdf_lock)
        for login in logins[: max(clients, 1)]
    ]
    for client in browsing:
        client.start()
    sent = 0
    while time.monotonic() - started < timeout:
        with registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FILTER (WHERE NOT COALESCE(subscription_to_send,"
                " false)), count(*) FROM account_move"
                " WHERE subscription_contract_id = ANY(%s)",
                [contracts.ids],
            )
            sent, billed = cr.fetchone()
        if billed == count and sent == count:
            break
        time.sleep(0.5)
    seconds = time.monotonic() - started
    stop.set()
    for client in browsing:
        client.join(120)
    portal = [t for kind, ts in timings.by_kind.items() if kind != "pdf" for t in ts]
    return sent / seconds, Timings.p95(portal), len(portal), sent


def night_line(registry, options):
    count = int(os.environ.get("NIGHT", "40"))
    if not count:
        return None
    clients = int(os.environ.get("NIGHT_CLIENTS", "6"))
    server = OdooServer(
        [o for o in options if not o.startswith("--max-cron-threads")],
        f"/tmp/sb_bench_night_{os.getpid()}.log",
    )
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["ir.config_parameter"].set_param("report.url", server.url)
        env["ir.config_parameter"].set_param("web.base.url", server.url)
    server.start()
    try:
        run = uuid.uuid4().hex[:4]
        # A first small run warms the workers up (templates, caches): not counted.
        _run(registry, server, 3, 0, f"Night{run}w")
        alone = _run(registry, server, count, 0, f"Night{run}a")
        loaded = _run(registry, server, count, clients, f"Night{run}b")
    finally:
        server.stop()
    return (
        f"night run on a server (--workers=2 --max-cron-threads=1), {count} "
        f"invoices billed + sent with PDFs: alone {alone[0]:.2f} invoices/s "
        f"(probe p95 {alone[1]:.2f} s, {alone[3]} sent) | with {clients} portal "
        f"clients {loaded[0]:.2f} invoices/s (portal p95 {loaded[1]:.2f} s over "
        f"{loaded[2]} requests, {loaded[3]} sent)"
    )
