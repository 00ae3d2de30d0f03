import io
import logging
import tempfile
from pathlib import Path

from odoo.tests import tagged
from odoo.tools import SQL
from odoo.tools.pdf import OdooPdfFileReader

from . import test_billing_processes as processes
from .concurrency import CommittedCase
from .sending_server import (
    IbanCompany,
    LockWatch,
    create_transfer_contracts,
    wait_process,
)

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestSendingLocks(CommittedCase):
    """The sending cron in a process of its own, rendering real PDFs, on
    transfer invoices carrying the SEPA QR code (a company with an IBAN): no
    session waits for a lock, the run ends, every invoice is sent once."""

    _spawn = processes.TestBillingProcesses._spawn
    _set_report_url = processes.TestBillingProcesses._set_report_url
    _cleanup_billing = processes.TestBillingProcesses._cleanup

    def setUp(self):
        super().setUp()
        self.contract_ids = []
        self.record_ids = {"res.partner": [], "product.product": []}
        self.tmp = Path(tempfile.mkdtemp(prefix="i20_sending_"))
        self.company = IbanCompany(self.registry)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            self.eur = self.company.set_up(env).id
            self.previous_url = env["ir.config_parameter"].get_param("report.url")
            # wkhtmltopdf fetches the report's assets from report.url: from a
            # closed port here (no HTTP server), the pages come out unstyled.
            env["ir.config_parameter"].set_param("report.url", "http://127.0.0.1:9")
        self.addCleanup(self._restore)
        self.addCleanup(self._cleanup_billing)

    def _restore(self):
        self._set_report_url(self.previous_url)
        with self.registry.cursor() as cr:
            self.company.tear_down(self._env(cr))

    def test_transfer_invoices_with_qr_code_are_sent_without_waiting(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            today = env.company._subscription_today()
            contracts, partners, product = create_transfer_contracts(
                env, 12, "QR transfer", env["res.currency"].browse(self.eur), today
            )
            self.contract_ids += contracts.ids
            self.record_ids["res.partner"] += partners.ids
            self.record_ids["product.product"] += product.ids
            cr.execute(SQL("ANALYZE account_move, account_move_line"))
        start_file = self.tmp / "go"
        start_file.touch()
        process, result = self._spawn(
            "qr", start_file, processes.BILLING, processes.SENDING, real_pdf=True
        )
        with LockWatch(self.registry) as watch:
            output, code = wait_process(process, 300)
        # Before the fix: the rendering threads waited forever on the invoices
        # the sending transaction held (Odoo's report writes the QR method).
        self.assertIsNotNone(code, f"the sending hung: {watch.waits[:5]}")
        self.assertEqual(code, 0, output[-3000:])
        self.assertFalse(watch.waits, "a session waited for a lock over 3 s")
        # Rendered by the threads, before the invoices were locked to be sent
        # (one wkhtmltopdf call per invoice without the patched build).
        self.assertIn("PDFs of 12 invoices rendered ahead", output)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            moves = env["account.move"].search(
                [("subscription_contract_id", "in", self.contract_ids)]
            )
            self.assertEqual(len(moves), 12)
            self.assertEqual(set(moves.mapped("qr_code_method")), {"sct_qr"})
            self.assertFalse(moves.filtered("subscription_to_send"))
            for move in moves:
                mails = env["mail.mail"].search(
                    [("model", "=", "account.move"), ("res_id", "=", move.id)]
                )
                self.assertEqual(len(mails), 1, move.name)
                pdf = move.invoice_pdf_report_id.raw
                reader = OdooPdfFileReader(io.BytesIO(pdf), strict=False)
                self.assertIn(move.name, reader.getPage(0).extractText())
        _logger.info(
            "12 transfer invoices with the SEPA QR code rendered and sent; longest "
            "lock wait %.1f s",
            watch.longest,
        )
