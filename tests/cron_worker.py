"""A separate OS process running scheduled actions the way Odoo's cron runner
does (``ir.cron._run_job``: the action called again while it reports work
remaining, a commit after each call), for the concurrency tests.

    python3 cron_worker.py RESULT_FILE START_FILE XMLID [XMLID...] -- ODOO_OPTIONS

Waits until START_FILE exists (so that two workers start together), runs each
scheduled action once through the runner, and writes to RESULT_FILE, as JSON,
the completion status and the (done, remaining) of every call.
"""

import json
import os
import sys
import time


def main():
    separator = sys.argv.index("--")
    result_file, start_file, *xmlids = sys.argv[1:separator]
    options = sys.argv[separator + 1 :]

    import odoo
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(options)
    db = str(odoo.tools.config["db_name"]).split(",")[0]
    registry = Registry(db)
    deadline = time.monotonic() + 300
    while not os.path.exists(start_file) and time.monotonic() < deadline:
        time.sleep(0.05)
    results = []
    for xmlid in xmlids:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            cron = env.ref(xmlid)
            cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_cron_progress")
            last_progress = cr.fetchone()[0]
            job = {
                "id": cron.id,
                "cron_name": cron.cron_name,
                "user_id": cron.user_id.id,
                "lastcall": cron.lastcall,
                "ir_actions_server_id": cron.ir_actions_server_id.id,
                "timed_out_counter": 0,
                "active": True,
            }
        started = time.monotonic()
        status = registry["ir.cron"]._run_job(job)
        with registry.cursor() as cr:
            cr.execute(
                "SELECT done, remaining FROM ir_cron_progress "
                "WHERE cron_id = %s AND id > %s ORDER BY id",
                (job["id"], last_progress),
            )
            calls = cr.fetchall()
        results.append(
            {
                "xmlid": xmlid,
                "status": status,
                "calls": calls,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    with open(result_file, "w", encoding="utf-8") as output:
        json.dump({"pid": os.getpid(), "runs": results}, output)


if __name__ == "__main__":
    main()
