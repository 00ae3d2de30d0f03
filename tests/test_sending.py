import io
from contextlib import contextmanager
from unittest.mock import patch

from freezegun import freeze_time
from lxml import etree
from reportlab.pdfgen import canvas

from odoo import Command, fields
from odoo.tests import tagged
from odoo.tools import config, mute_logger
from odoo.tools.pdf import OdooPdfFileReader
from odoo.tools.safe_eval import safe_eval

from odoo.addons.account.models.account_move_send import (
    AccountMoveSend as BaseAccountMoveSend,
)

from ..models.account_move_send import AccountMoveSend
from .common import SubscriptionCommon

D = fields.Date.to_date
SEND_MODULE = "odoo.addons.subscription_billing.models.account_move_send"


def pdf_page(text):
    """A one-page PDF showing ``text``, with the outline wkhtmltopdf gives each
    record (Odoo splits and converts PDFs by their outlines)."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.drawString(72, 760, text)
    pdf.bookmarkPage("invoice")
    pdf.addOutlineEntry(text, "invoice", level=0)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@tagged("post_install", "-at_install")
class TestSending(SubscriptionCommon):
    """What happens to each posted invoice: emailed (with its e-invoice where
    asked), or left to send and retried, never silently dropped."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A new French company as a new user has it: no phone, no bank account.
        cls.fr = cls.env.ref("base.fr")
        cls.company.partner_id.write(
            {
                "country_id": cls.fr.id,
                "phone": False,
                "mobile": False,
                "street": "1 rue de la Paix",
                "zip": "75002",
                "city": "Paris",
            }
        )
        cls.company.write({"email": "factures@abo.example", "vat": "FR23334175221"})
        cls.company.partner_id.bank_ids.unlink()
        cls.customer.write(
            {
                "country_id": cls.fr.id,
                "street": "12 rue du Four",
                "zip": "69001",
                "city": "Lyon",
                "invoice_edi_format": "facturx",
            }
        )
        cls.policy = cls.env.ref("subscription_billing.reminder_policy_default")
        cls.company.subscription_reminder_policy_id = cls.policy

    def _invoices(self, contracts):
        return self.env["account.move"].search(
            [("subscription_contract_id", "in", contracts.ids)], order="id"
        )

    def _mails(self, invoices):
        """The emails to the customers (not the activity notifications)."""
        return (
            self.env["mail.mail"]
            .search([("model", "=", "account.move"), ("res_id", "in", invoices.ids)])
            .filtered(lambda m: m.recipient_ids & invoices.partner_id)
        )

    def _filter(self, name):
        view = self.env.ref("subscription_billing.view_account_invoice_filter_sending")
        node = etree.fromstring(view.arch).xpath(f"//filter[@name='{name}']")[0]
        return self.env["account.move"].search(safe_eval(node.get("domain")))

    @contextmanager
    def _real_pdfs(self, day, run_wkhtmltopdf):
        """Real PDFs on ``day`` (the test mode renders HTML and keeps the XML
        apart), their pages made by ``run_wkhtmltopdf`` (the real one would
        need an HTTP server)."""
        with (
            patch.dict(config.options, {"test_enable": False}),
            patch.object(
                type(self.env["ir.actions.report"]), "_run_wkhtmltopdf", run_wkhtmltopdf
            ),
            freeze_time(day),
            mute_logger("odoo.tools.pdf"),  # fonttools is not installed here
        ):
            yield

    def _add_company_bank(self):
        return self.env["res.partner.bank"].create(
            {
                "acc_number": "FR7630006000011234567890189",
                "partner_id": self.company.partner_id.id,
                "allow_out_payment": True,
            }
        )

    # --- e-invoice errors -----------------------------------------------------

    def test_einvoice_errors_still_email_the_pdf_and_ask_once(self):
        other = self.env["res.partner"].create(
            {
                "name": "Garage Dupont",
                "email": "compta@dupont.example",
                "country_id": self.fr.id,
                "zip": "13001",
                "invoice_edi_format": "facturx",
            }
        )
        contracts = self._start() | self._start(partner=other)
        self._run_cron("2027-01-01")
        invoices = self._invoices(contracts)
        self.assertEqual(len(invoices), 2)
        for invoice in invoices:
            self.assertFalse(invoice.subscription_to_send)
            self.assertTrue(invoice.is_move_sent)
            self.assertEqual(invoice.invoice_sent_date, D("2027-01-01"))
            mail = self._mails(invoice)
            self.assertEqual(len(mail), 1, "the invoice is emailed all the same")
            pdf = mail.attachment_ids.filtered(lambda a: a.name.endswith(".pdf"))
            self.assertEqual(pdf.name, invoice._get_invoice_report_filename())
            self.assertTrue(invoice.invoice_pdf_report_id, "the invoice's own PDF")
            self.assertIn("'Phone'", invoice.subscription_edi_error)
            self.assertIn("'Recipient Bank'", invoice.subscription_edi_error)
        activities = invoices.activity_ids.filtered(
            lambda a: a.summary == "E-invoice error"
        )
        self.assertEqual(len(activities), 1, "told once, not once per invoice")
        self.assertIn("Phone", activities.note)
        self.assertEqual(self._filter("subscription_edi_errors") & invoices, invoices)

    def test_settings_name_what_stops_einvoices(self):
        settings = self.env["res.config.settings"].create({})
        self.assertIn("'Phone'", settings.subscription_einvoice_issues)
        self.assertIn("'Recipient Bank'", settings.subscription_einvoice_issues)
        self.company.partner_id.phone = "+33 1 23 45 67 89"
        self._add_company_bank()
        settings = self.env["res.config.settings"].create({})
        self.assertIn("SIREN", settings.subscription_einvoice_issues)
        self.company.company_registry = "73282932000074"
        settings = self.env["res.config.settings"].create({})
        self.assertFalse(settings.subscription_einvoice_issues)

    # --- sending failures -----------------------------------------------------

    def test_failed_sending_is_retried_then_flagged_after_three_days(self):
        contract = self._start(user_id=self.user_sales.id)
        with (
            patch.object(
                BaseAccountMoveSend,
                "_generate_and_send_invoices",
                side_effect=OSError("mail gateway unreachable"),
            ),
            mute_logger(SEND_MODULE, "odoo.addons.subscription_billing.models"),
        ):
            self._run_cron("2027-01-01")
            invoice = self._invoices(contract)
            self.assertEqual(invoice.state, "posted")
            self.assertTrue(invoice.subscription_to_send, "left to send")
            self.assertIn("mail gateway unreachable", invoice.subscription_send_error)
            self.assertFalse(invoice.invoice_sent_date)
            self._run_cron("2027-01-01 18:00")  # the same day: not tried again
            self.assertEqual(invoice.subscription_send_failed_days, 1)
            self._run_cron("2027-01-02")
            self.assertFalse(invoice.activity_ids)
            self.assertNotIn(invoice, self._filter("subscription_not_sent"))
            self._run_cron("2027-01-03")
        self.assertEqual(invoice.subscription_send_failed_days, 3)
        self.assertIn(invoice, self._filter("subscription_not_sent"))
        self.assertEqual(invoice.activity_ids.summary, "Invoice not sent")
        self.assertEqual(invoice.activity_ids.user_id, self.user_sales)
        self.assertIn("mail gateway unreachable", invoice.activity_ids.note)
        self.assertFalse(self._mails(invoice))
        # The mail gateway is back: sent on the next run.
        self._run_cron("2027-01-04")
        self.assertFalse(invoice.subscription_to_send)
        self.assertFalse(invoice.subscription_send_error)
        self.assertEqual(len(self._mails(invoice)), 1)
        self.assertEqual(invoice.invoice_sent_date, D("2027-01-04"))
        self.assertNotIn(invoice, self._filter("subscription_not_sent"))

    def test_invoice_without_queued_email_stays_to_send(self):
        """Odoo's sending logs an error and sends nothing (here a failing web
        service): the invoice is not counted as sent."""

        def fail(self_, invoices_data):
            for invoice_data in invoices_data.values():
                invoice_data["error"] = "The e-invoicing platform is down"

        contract = self._start()
        with (
            patch.object(
                BaseAccountMoveSend, "_call_web_service_before_invoice_pdf_render", fail
            ),
            mute_logger(SEND_MODULE, "odoo.addons.subscription_billing.models"),
        ):
            self._run_cron("2027-01-01")
        invoice = self._invoices(contract)
        self.assertFalse(self._mails(invoice))
        self.assertTrue(invoice.subscription_to_send)
        self.assertIn("platform is down", invoice.subscription_send_error)
        self.assertFalse(invoice.invoice_sent_date)

    def test_no_reminder_for_an_invoice_never_delivered(self):
        self.customer.email = False
        contract = self._start()
        self._run_cron("2027-01-01")
        invoice = self._invoices(contract)
        self.assertEqual(invoice.activity_ids.summary, "Send by post")
        self.assertFalse(invoice.subscription_to_send, "handed over to a person")
        self.assertFalse(invoice.invoice_sent_date, "not delivered yet")
        moves = self.env["account.move"]
        with freeze_time("2027-02-15"):
            self.assertNotIn(invoice, moves.search(moves._get_reminder_due_domain()))
        with freeze_time("2027-02-10"):
            invoice.is_move_sent = True  # printed and posted, or marked as sent
            self.assertEqual(invoice.invoice_sent_date, D("2027-02-10"))
        with freeze_time("2027-02-15"):
            self.assertIn(invoice, moves.search(moves._get_reminder_due_domain()))

    # --- one wkhtmltopdf call for many invoices, or one by one ----------------

    def _send_three(self, patched):
        partners = self.env["res.partner"].create(
            [
                {"name": f"Client {i}", "email": f"c{i}@example.com", "lang": "en_US"}
                for i in range(3)
            ]
        )
        contracts = self.env["subscription.contract"]
        for partner in partners:
            contracts |= self._start(partner=partner)
        with freeze_time("2027-01-01"):
            invoices = contracts._generate_invoices()
        calls = []
        original = BaseAccountMoveSend._generate_and_send_invoices

        def spy(self_, moves, **kwargs):
            calls.append(len(moves))
            return original(self_, moves, **kwargs)

        with (
            patch.object(
                AccountMoveSend, "_subscription_render_in_batch", return_value=patched
            ),
            patch.object(BaseAccountMoveSend, "_generate_and_send_invoices", spy),
            freeze_time("2027-01-01"),
        ):
            sent = invoices._subscription_send()
        self.assertEqual(sent, invoices)
        self.assertEqual(len(self._mails(invoices)), 3)
        self.assertFalse(any(invoices.mapped("subscription_to_send")))
        return calls

    def test_patched_wkhtmltopdf_sends_the_batch_in_one_call(self):
        self.assertEqual(self._send_three(patched=True), [3])

    def test_unpatched_wkhtmltopdf_sends_one_by_one(self):
        self.assertEqual(self._send_three(patched=False), [1, 1, 1])

    def test_batch_that_fails_is_sent_one_by_one(self):
        original = BaseAccountMoveSend._prepare_invoice_pdf_report

        def render(self_, invoices_data):
            if len(invoices_data) > 1:
                raise OSError("wkhtmltopdf cannot split this batch")
            return original(self_, invoices_data)

        with (
            patch.object(BaseAccountMoveSend, "_prepare_invoice_pdf_report", render),
            mute_logger(SEND_MODULE),
        ):
            calls = self._send_three(patched=True)
        self.assertEqual(calls, [3, 1, 1, 1])

    def test_pdfs_rendered_ahead_are_sent_with_their_einvoice(self):
        """A PDF rendered ahead (by the sending cron's threads) is the one
        attached and emailed, with the Factur-X embedded in it as usual; an
        invoice without one is rendered by the sending itself."""
        self.company.partner_id.phone = "+33 1 23 45 67 89"
        self.company.company_registry = "73282932000074"
        self._add_company_bank()
        other = self.customer.copy({"name": "Fromagerie Dubois"})
        contracts = self._start() | self._start(partner=other)
        with freeze_time("2027-01-01"):
            ahead, rendered_here = contracts._generate_invoices()

        # Real PDFs (the test mode renders HTML and keeps the XML apart); the
        # page rendered here comes from reportlab, wkhtmltopdf needing an HTTP
        # server.
        calls = []

        def run_wkhtmltopdf(self_, bodies, **kwargs):
            calls.append(len(bodies))
            return pdf_page(f"Rendered here {rendered_here.name}")

        report = self.env.ref("account.account_invoices")
        prerendered = {(report.id, ahead.id): pdf_page(f"Ahead {ahead.name}")}
        with self._real_pdfs("2027-01-01", run_wkhtmltopdf):
            sent = (
                (ahead | rendered_here)
                .with_context(
                    force_report_rendering=True, subscription_prerendered=prerendered
                )
                ._subscription_send()
            )
        self.assertEqual(sent, ahead | rendered_here)
        # Only the invoice without a PDF rendered ahead was rendered here.
        self.assertEqual(calls, [1])
        for invoice, text in (
            (ahead, f"Ahead {ahead.name}"),
            (rendered_here, f"Rendered here {rendered_here.name}"),
        ):
            pdf = self._mails(invoice).attachment_ids.filtered(
                lambda a: a.mimetype == "application/pdf"
            )
            self.assertEqual(pdf.raw, invoice.invoice_pdf_report_id.raw)
            reader = OdooPdfFileReader(io.BytesIO(pdf.raw), strict=False)
            self.assertIn(text, reader.getPage(0).extractText())
            embedded = dict(reader.getAttachments())
            self.assertIn(invoice.name.encode(), embedded["factur-x.xml"])

    def test_pdfs_are_rendered_ahead_by_the_cron_only(self):
        from ..models.account_move_send import InvoicePdfPrerenderer

        sender = self.env["account.move.send"]
        moves = self.env["account.move"].browse(range(1, 76))
        chunks = InvoicePdfPrerenderer._split(moves)
        self.assertEqual([len(chunk) for chunk in chunks], [10, 20, 30, 15])
        self.assertEqual(sum(chunks, moves.browse()), moves)
        # Never outside the sending cron (Invoice Now sends invoices this
        # transaction has just posted, which another cursor cannot see), never
        # in tests (their data is not committed).
        cron = sender.with_context(subscription_prerender=True)
        self.assertFalse(sender._subscription_can_prerender())
        self.assertFalse(cron._subscription_can_prerender())
        with patch.dict(config.options, {"test_enable": False}):
            self.assertTrue(cron._subscription_can_prerender())
            self.assertFalse(sender._subscription_can_prerender())

    def test_query_count_of_sending_ten_invoices(self):
        """Pinned: sending reads taxes, tags, reports and units once per batch
        and writes no line (see tools/bench.py for the figures at scale)."""
        partners = self.env["res.partner"].create(
            [{"name": f"Client {i}", "email": f"c{i}@example.com"} for i in range(10)]
        )
        contracts = self.env["subscription.contract"]
        for partner in partners:
            contracts |= self._start(partner=partner)
        with freeze_time("2027-01-01"):
            invoices = contracts._generate_invoices()
        self.assertEqual(len(invoices), 10)
        self.assertTrue(all(invoices.mapped("access_token")))
        self.env.flush_all()
        self.env.invalidate_all()
        with (
            patch.object(
                AccountMoveSend, "_subscription_render_in_batch", return_value=True
            ),
            freeze_time("2027-01-01"),
            self.assertQueryCount(SEND_QUERIES_10),
        ):
            sent = invoices._subscription_send()
            self.env.flush_all()
        self.assertEqual(len(sent), 10)
        self.assertEqual(len(self._mails(invoices)), 10)

    def test_wkhtmltopdf_detection(self):
        from ..models import account_move_send

        account_move_send.wkhtmltopdf_is_patched.cache_clear()
        try:
            with patch(
                f"{SEND_MODULE}.subprocess.run",
                return_value=type(
                    "R", (), {"stdout": b"wkhtmltopdf 0.12.4 (with patched qt)\n"}
                )(),
            ):
                self.assertTrue(account_move_send.wkhtmltopdf_is_patched())
            account_move_send.wkhtmltopdf_is_patched.cache_clear()
            with patch(
                f"{SEND_MODULE}.subprocess.run",
                return_value=type("R", (), {"stdout": b"wkhtmltopdf 0.12.6\n"})(),
            ):
                self.assertFalse(account_move_send.wkhtmltopdf_is_patched())
        finally:
            account_move_send.wkhtmltopdf_is_patched.cache_clear()

    # --- Factur-X -------------------------------------------------------------

    def test_facturx_xml_is_embedded_in_the_emailed_pdf(self):
        self.company.partner_id.phone = "+33 1 23 45 67 89"
        self.company.company_registry = "73282932000074"
        self._add_company_bank()
        contract = self._start(date_start="2027-02-01")
        with freeze_time("2027-02-01"):
            invoice = contract._generate_invoices()
        self.assertEqual(invoice.partner_bank_id.partner_id, self.company.partner_id)

        # A real PDF (the test mode renders HTML and keeps the XML apart), in
        # which account_edi_ubl_cii embeds the XML as for customers; the page
        # itself comes from reportlab here, wkhtmltopdf needing an HTTP server.
        def run_wkhtmltopdf(self_, bodies, **kwargs):
            return pdf_page(invoice.name)

        with self._real_pdfs("2027-02-01", run_wkhtmltopdf):
            invoice.with_context(force_report_rendering=True)._subscription_send()
        self.assertFalse(invoice.subscription_edi_error)
        self.assertFalse(invoice.subscription_to_send)
        mail = self._mails(invoice)
        pdf = mail.attachment_ids.filtered(lambda a: a.mimetype == "application/pdf")
        self.assertEqual(len(pdf), 1)
        self.assertTrue(pdf.raw.startswith(b"%PDF"))
        embedded = dict(
            OdooPdfFileReader(io.BytesIO(pdf.raw), strict=False).getAttachments()
        )
        self.assertIn("factur-x.xml", embedded)
        tree = etree.fromstring(embedded["factur-x.xml"])
        ns = {
            "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
            "ram": "urn:un:unece:uncefact:data:standard:"
            "ReusableAggregateBusinessInformationEntity:100",
            "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
        }

        def value(xpath):
            return tree.xpath(xpath, namespaces=ns)[0].text.strip()

        self.assertEqual(value("//rsm:ExchangedDocument/ram:ID"), invoice.name)
        self.assertEqual(
            value("//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"),
            "20270201",
        )
        self.assertEqual(
            value("//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/*"),
            invoice.invoice_date_due.strftime("%Y%m%d"),
        )
        self.assertEqual(value("//ram:TaxBasisTotalAmount"), "100.00")
        self.assertEqual(value("//ram:TaxTotalAmount"), "20.00")
        self.assertEqual(value("//ram:GrandTotalAmount"), "120.00")
        self.assertEqual(value("//ram:DuePayableAmount"), "120.00")
        self.assertEqual(
            value(
                "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent"
            ),
            "20.0",
        )
        self.assertEqual(
            value("//ram:SellerTradeParty/ram:Name"), self.company.partner_id.name
        )
        self.assertEqual(
            value("//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID"),
            "FR23334175221",
        )
        self.assertEqual(value("//ram:BuyerTradeParty/ram:Name"), "Boulangerie Martin")
        self.assertEqual(
            value("//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:PostcodeCode"),
            "69001",
        )
        self.assertEqual(
            value("//ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString"),
            "20270201",
        )
        self.assertEqual(
            value("//ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString"),
            "20270228",
        )

    def test_prorated_line_in_the_cii_adds_up(self):
        """7 x 100.00 billed for 50 of 90 days (388.89): the CII line carries
        the prorated total, which the header totals add up; its net price is
        the total divided by the quantity with 4 decimals, so that quantity x
        net price gives the line total within a cent (PEPPOL-EN16931-R120)."""
        contract = self._start(
            plan=self._quarterly_aligned_plan(),
            date_start="2027-02-10",
            line_ids=[
                Command.create(
                    {"product_id": self.product_maintenance.id, "quantity": 7}
                )
            ],
        )
        with freeze_time("2027-02-10"):
            invoice = contract._generate_invoices()
        self.assertEqual(invoice.amount_untaxed, 388.89)
        xml, __ = self.env["account.edi.xml.cii"]._export_invoice(invoice)
        tree = etree.fromstring(xml)

        def values(name):
            return [
                node.text.strip()
                for node in tree.xpath(f"//*[local-name()='{name}']")
                if node.text and node.text.strip()
            ]

        line = tree.xpath("//*[local-name()='IncludedSupplyChainTradeLineItem']")
        self.assertEqual(len(line), 1)
        # Line total (BT-131), then the header's sum of lines (BT-106).
        self.assertEqual(values("LineTotalAmount"), ["388.89", "388.89"])
        self.assertEqual(values("TaxBasisTotalAmount"), ["388.89"])
        self.assertEqual(values("BilledQuantity"), ["7.0"])
        net = float(
            line[0]
            .xpath(
                ".//*[local-name()='NetPriceProductTradePrice']"
                "/*[local-name()='ChargeAmount']"
            )[0]
            .text
        )
        self.assertEqual(net, 55.5557)
        self.assertLessEqual(abs(net * 7 - 388.89), 0.01)

    def test_billed_period_in_the_cii_of_any_subscription_invoice(self):
        tax_10 = self.tax_20.copy({"name": "VAT 10% (test)", "amount": 10.0})
        self.product_hosting.taxes_id = [Command.set(tax_10.ids)]
        contract = self._start(
            products=self.product_maintenance | self.product_hosting,
            date_start="2027-03-01",
        )
        with freeze_time("2027-03-01"):
            invoice = contract._generate_invoices()
        xml, __ = self.env["account.edi.xml.cii"]._export_invoice(invoice)
        self.assertIn(b"BillingSpecifiedPeriod", xml)
        self.assertIn(b"20270331", xml)


# Queries to send 10 invoices in one batch in tests (HTML rendering; measured):
# at most 425 (415 when run alone, 425 after the amendment and billing tests;
# the e-invoices follow the French rules: the company's country, the lines'
# periods).
SEND_QUERIES_10 = 425
