"""A separate OS process running scheduled actions the way Odoo's cron runner
does (``ir.cron._run_job``: the action called again while it reports work
remaining, a commit after each call), for the concurrency tests.

    python3 cron_worker.py RESULT_FILE START_FILE XMLID [XMLID...] -- ODOO_OPTIONS

Writes RESULT_FILE.ready once Odoo is loaded, waits until START_FILE exists
(so that two workers start together), runs each
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
    # Reports render as HTML, as in the test process (no wkhtmltopdf, no HTTP
    # server for its assets). Set once loaded: with it set before, loading the
    # registry would run the modules' tests.
    # With SB_WORKER_REAL_PDF=1, reports are rendered by wkhtmltopdf as in
    # production (assets not served: the pages are unstyled).
    if not os.environ.get("SB_WORKER_REAL_PDF"):
        odoo.tools.config["test_enable"] = True
    # Loaded (loading may alter tables, which waits for every open transaction
    # on them): the test may now take its locks, then start the workers.
    with open(result_file + ".ready", "w", encoding="utf-8"):
        pass
    # The progress records of this process's calls (another worker may run the
    # same scheduled action at the same time).
    cron_class = registry["ir.cron"]
    add_progress = cron_class._add_progress
    progress_ids = []

    def _add_progress(self, *, timed_out_counter=None):
        cron, progress = add_progress(self, timed_out_counter=timed_out_counter)
        progress_ids.append(progress.id)
        return cron, progress

    cron_class._add_progress = _add_progress
    deadline = time.monotonic() + 300
    while not os.path.exists(start_file) and time.monotonic() < deadline:
        time.sleep(0.05)
    results = []
    for xmlid in xmlids:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            cron = env.ref(xmlid)
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
        progress_ids.clear()
        status = cron_class._run_job(job)
        with registry.cursor() as cr:
            cr.execute(
                "SELECT done, remaining FROM ir_cron_progress "
                "WHERE id = ANY(%s) ORDER BY id",
                (progress_ids,),
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
