from freezegun import freeze_time
from lxml import etree

from odoo import Command, fields
from odoo.tests import tagged

from . import einvoice_validation, test_einvoice_fr
from .common import SubscriptionCommon

D = fields.Date.to_date
NS = test_einvoice_fr.NS
# The helpers of the French e-invoice tests, borrowed (importing their class
# here would run its tests twice).
EINVOICE = test_einvoice_fr.TestEinvoiceFr


@tagged("post_install", "-at_install")
class TestSelfServiceEinvoice(SubscriptionCommon):
    """The credit note of a free termination after a late renewal notice
    (French Consumer Code L215-1 al. 2) is a valid e-invoice: emailed by the
    sending cron as a PDF/A-3 Factur-X, type 381, naming the advance it
    corrects, valid against EN 16931 and the French rules."""

    _send_real_pdfs = EINVOICE._send_real_pdfs
    _emailed_pdf = EINVOICE._emailed_pdf
    _assert_facturx_pdf = EINVOICE._assert_facturx_pdf

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The French company of test_einvoice_fr.py: SIREN, VAT, IBAN.
        test_einvoice_fr.setup_french_company(cls)
        # L215-1 al. 2 is a consumer's right: a French consumer who asked for
        # Factur-X (a business customer's contract never gets this credit).
        cls.consumer = cls.env["res.partner"].create(
            {
                "name": "Jeanne Petit",
                "email": "jeanne@example.com",
                "lang": "en_US",
                "country_id": cls.fr.id,
                "street": "3 cours de l'Intendance",
                "zip": "33000",
                "city": "Bordeaux",
                "invoice_edi_format": "facturx",
            }
        )
        cls.portal_user = cls._create_portal_user(
            "jeanne_portal", parent=cls.consumer, email="jeanne@example.com"
        )
        cls.plan_year_tacit = cls.env["subscription.plan"].create(
            {
                "name": "Yearly tacit",
                "billing_interval": 1,
                "billing_unit": "year",
                "commitment_length": 12,
                "commitment_unit": "month",
                "auto_renew": True,
                "company_id": False,
            }
        )

    def setUp(self):
        super().setUp()
        missing = einvoice_validation.missing()
        if missing:
            self.fail(f"cannot validate e-invoices: {missing} (see .ci/run)")

    def _late_notice_contract(self):
        """test_selfservice_law.py's contract: 1,200.00 a year billed in
        advance from 1 March 2026, its renewal notice sent late (10 January
        2027 for a deadline of 29 January), renewed and billed on 1 March."""
        contract = self.env["subscription.contract"].create(
            {
                "partner_id": self.consumer.id,
                "plan_id": self.plan_year_tacit.id,
                "date_start": "2026-03-01",
                "user_id": self.user_sales.id,
                "line_ids": [
                    Command.create(
                        {"product_id": self.product_maintenance.id, "price_unit": 1200}
                    )
                ],
            }
        )
        self.assertEqual(contract.customer_type, "b2c")
        with freeze_time("2026-03-01"):
            contract.action_start()
            contract._generate_invoices()
        for day in ("2027-01-10", "2027-03-01"):
            with freeze_time(day):
                self.env["subscription.contract"]._cron_process_renewals()
        self.assertEqual(contract.free_termination_date, D("2027-03-01"))
        with freeze_time("2027-03-01"):
            advance = contract._generate_invoices()
        self.assertEqual(advance.amount_untaxed, 1200.0)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=advance.ids
        ).create({"payment_date": "2027-03-05"})._create_payments()
        self.assertIn(advance.payment_state, ("paid", "in_payment"))
        return contract, advance

    def test_free_termination_credit_note_is_a_valid_facturx(self):
        contract, advance = self._late_notice_contract()
        # The consumer ends it from the portal on 15 April (the controller
        # checks their access, then acts as superuser).
        contract.with_user(self.portal_user).check_access("read")
        with freeze_time("2027-04-15"):
            info = contract.with_user(self.portal_user).sudo()._get_portal_termination()
            self.assertEqual((info["end"], info["rule"]), (D("2027-04-15"), "free"))
            contract.with_user(self.portal_user).sudo()._portal_terminate()
        credit = contract.advance_credit_move_id
        self.assertEqual(credit.move_type, "out_refund")
        self.assertEqual(credit.state, "posted")
        self.assertAlmostEqual(credit.amount_untaxed, 1049.18)
        self.assertTrue(credit.subscription_to_send, "left to the sending cron")

        # Sent by the sending cron, as every subscription document.
        self._send_real_pdfs("2027-04-15")
        self.assertFalse(credit.subscription_to_send)
        self.assertFalse(credit.subscription_edi_error)
        self.assertTrue(credit.is_move_sent)
        xml = self._assert_facturx_pdf(self._emailed_pdf(credit))

        tree = etree.fromstring(xml)

        def value(path):
            return tree.xpath(path, namespaces=NS)[0].text

        self.assertEqual(value("//rsm:ExchangedDocument/ram:ID"), credit.name)
        self.assertEqual(value("//rsm:ExchangedDocument/ram:TypeCode"), "381")
        # BT-25/BT-26: the advance of 1 March it corrects.
        self.assertEqual(
            value("//ram:InvoiceReferencedDocument/ram:IssuerAssignedID"),
            advance.name,
        )
        self.assertEqual(
            value("//ram:InvoiceReferencedDocument//qdt:DateTimeString"), "20270301"
        )
        # BG-14: the days credited, 16 April 2027 to 29 February 2028.
        period = "//ram:ApplicableHeaderTradeSettlement/ram:BillingSpecifiedPeriod"
        self.assertEqual(
            value(f"{period}/ram:StartDateTime/udt:DateTimeString"), "20270416"
        )
        self.assertEqual(
            value(f"{period}/ram:EndDateTime/udt:DateTimeString"), "20280229"
        )
        self.assertEqual(value("//ram:TaxBasisTotalAmount"), "1049.18")
        self.assertEqual(value("//ram:InvoiceCurrencyCode"), "EUR")
        notes = {
            note.findtext("ram:SubjectCode", namespaces=NS): note.findtext(
                "ram:Content", namespaces=NS
            )
            for note in tree.xpath("//ram:IncludedNote", namespaces=NS)
        }
        self.assertEqual(notes["BAR"], "B2C")

        # EN 16931 in full; of the French rules, those of business invoices
        # only fail: a consumer has no electronic address (BR-FR-12, BT-49),
        # as test_einvoice_fr.py's test_consumers_get_b2c_notes shows.
        errors = einvoice_validation.validate({credit.name: xml})[credit.name]
        self.assertFalse([e for e in errors if not e.startswith("BR-FR")], errors)
        self.assertEqual({e.split(":")[0] for e in errors}, {"BR-FR BR-FR-12_BT-49"})
