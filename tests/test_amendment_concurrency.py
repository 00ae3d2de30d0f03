import os
import subprocess
import sys
import tempfile
import textwrap

from odoo import SUPERUSER_ID, api
from odoo.tests import get_db_name, tagged

from .concurrency import CommittedContractCase

# Run by each worker process: load the registry, wait for the other worker,
# then invoice the contract's amendment in one transaction.
WORKER = textwrap.dedent(
    """
    import os, sys, time
    import odoo
    from odoo.tools import config
    db, contract_id, barrier, nolock = sys.argv[1:5]
    config.parse_config(sys.argv[5:])
    from odoo.modules.registry import Registry
    registry = Registry(db)
    open(os.path.join(barrier, str(os.getpid())), "w").close()
    while len(os.listdir(barrier)) < 2:
        time.sleep(0.02)
    try:
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            contract = env["subscription.contract"].browse(int(contract_id))
            if nolock == "1":
                # A worker that bypasses the row lock: only PostgreSQL stops it.
                type(contract)._lock_for_billing = lambda self, nowait=False: self
            moves = contract._bill_amendments(raise_errors=nolock == "1")
            print("BILLED", len(moves))
    except Exception as error:
        print("REFUSED", type(error).__name__)
    """
)


@tagged("post_install", "-at_install")
class TestAmendmentConcurrency(CommittedContractCase):
    """Two OS processes invoice the same amendment on committed data."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            # Started (and billed) a few days ago, in advance.
            contract = self._create_contract(
                self._env(cr), "Amendment concurrency", price=310, days_ago=3
            )
            contract._generate_invoices()
            contract.line_ids.quantity = 2  # from today: an increase to invoice

    def _run_two_workers(self, nolock):
        with tempfile.TemporaryDirectory() as barrier:
            command = [
                sys.executable,
                "-c",
                WORKER,
                get_db_name(),
                str(self.ids["contract"]),
                barrier,
                "1" if nolock else "0",
                *self._odoo_args(),
            ]
            workers = [
                subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    env=dict(os.environ),
                )
                for __ in range(2)
            ]
            outputs = [worker.communicate(timeout=300)[0] for worker in workers]
        return sorted(line for out in outputs for line in out.splitlines() if line)

    def _check_billed_once(self, outputs):
        self.assertEqual(len(outputs), 2, outputs)
        self.assertIn("BILLED 1", outputs)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            adjustment = self._moves(env, subscription_amendment=True).filtered(
                lambda m: m.state != "cancel"
            )
            self.assertEqual(len(adjustment), 1)
            contract = env["subscription.contract"].browse(self.ids["contract"])
            period = self._moves(env, subscription_amendment=False)
            days = (period.subscription_period_end - contract._get_today()).days + 1
            full = (
                period.subscription_period_end - period.subscription_period_start
            ).days + 1
            # One more unit (310.00) for the days left in the invoiced period.
            expected = contract.currency_id.round(310.0 * days / full)
            self.assertEqual(adjustment.amount_untaxed, expected)

    def test_two_workers_invoice_an_amendment_once(self):
        outputs = self._run_two_workers(nolock=False)
        self._check_billed_once(outputs)
        self.assertIn("BILLED 0", outputs)

    def test_two_workers_without_the_lock_stopped_by_postgresql(self):
        outputs = self._run_two_workers(nolock=True)
        self._check_billed_once(outputs)
        # The other one is refused by the database (or, started after the first
        # committed, finds nothing left to invoice).
        outputs.remove("BILLED 1")
        self.assertIn(
            outputs[0],
            {
                "BILLED 0",
                "REFUSED ExclusionViolation",
                "REFUSED SerializationFailure",
                "REFUSED DeadlockDetected",
            },
        )
