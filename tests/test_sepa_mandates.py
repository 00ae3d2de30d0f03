from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import SepaCommon

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestSepaMandates(SepaCommon):
    """Mandates: their checks, life cycle and printed form."""

    # --- mandates -------------------------------------------------------------

    def test_bad_iban_is_refused(self):
        account = self.env["res.partner.bank"].create(
            {
                "partner_id": self.customer.id,
                "acc_number": "FR7630006000011234567890188",
            }
        )
        with self.assertRaisesRegex(ValidationError, "not a valid IBAN"):
            self._mandate(self.customer, account)

    def test_missing_bic_refused_by_the_old_format(self):
        self.company.sepa_pain_version = "pain.008.001.02"
        account = self.env["res.partner.bank"].create(
            {"partner_id": self.customer.id, "acc_number": "BE68539007547034"}
        )
        with self.assertRaisesRegex(ValidationError, "no BIC"):
            self._mandate(self.customer, account)

    def test_duplicate_reference_is_refused(self):
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError):
            with self.env.cr.savepoint():
                self._mandate(
                    self.customer, self.customer_account, name=self.mandate.name
                )

    def test_reference_frozen_once_signed_and_activation_needs_signature(self):
        with self.assertRaisesRegex(UserError, "cannot change"):
            self.mandate.name = "OTHER-REF"
        draft = self.env["subscription.sepa.mandate"].create(
            {
                "partner_id": self.customer.id,
                "partner_bank_id": self.customer_account.id,
            }
        )
        self.assertTrue(draft.name.startswith("SDD/"))
        draft.name = "MY-REF-1"
        with self.assertRaisesRegex(UserError, "signature date"):
            draft.action_validate()

    def test_bad_creditor_identifier_is_refused(self):
        with self.assertRaisesRegex(ValidationError, "not a valid SEPA creditor"):
            self.company.sepa_creditor_identifier = "FR00ZZZ000000"

    def test_direct_debit_contract_needs_an_active_mandate(self):
        draft_mandate = self.env["subscription.sepa.mandate"].create(
            {
                "partner_id": self.customer.id,
                "partner_bank_id": self.customer_account.id,
            }
        )
        contract = self._create_contract(
            payment_method="sepa_direct_debit", mandate_id=draft_mandate.id
        )
        with self.assertRaisesRegex(UserError, "an active SEPA mandate"):
            contract.action_start()

    def test_revoked_mandate_stops_collections_and_warns(self):
        contract = self._sdd_contract(self.customer, self.mandate)
        self.mandate.action_revoke()
        self.assertEqual(self.mandate.state, "revoked")
        self.assertIn("SEPA mandate revoked", contract.activity_ids.summary)
        with freeze_time("2027-01-01"):
            contract._generate_invoices()
            batch = self.env["subscription.sepa.batch"]._cron_prepare_batches()
        self.assertFalse(batch)

    def test_unused_mandate_expires_after_36_months(self):
        with freeze_time("2029-11-30"):
            self.env["subscription.sepa.mandate"]._cron_expire_mandates()
        self.assertEqual(self.mandate.state, "active")
        self.assertEqual(self.other_mandate.state, "active")
        with freeze_time("2029-12-02"):
            expired = self.env["subscription.sepa.mandate"]._cron_expire_mandates()
        self.assertEqual(expired, self.mandate)
        self.assertEqual(self.mandate.state, "expired")

    def test_mandate_form_prints_with_qr_code(self):
        self._sdd_contract(self.customer, self.mandate)
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "subscription_billing.action_report_sepa_mandate", self.mandate.ids
            )[0]
            .decode()
        )
        self.assertIn(self.mandate.name, html)
        self.assertIn("FR72ZZZ123456", html)
        self.assertIn("data:image/png;base64,", html)
