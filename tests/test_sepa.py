from freezegun import freeze_time
from lxml import etree
from psycopg2 import IntegrityError

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from ..lib import sepa
from .common import SubscriptionCommon

D = fields.Date.to_date


class SepaCommon(SubscriptionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.setup_other_currency("EUR")
        cls.company.subscription_reminder_policy_id = cls.env.ref(
            "subscription_billing.reminder_policy_default"
        )
        bank = cls.env["res.bank"].create(
            {"name": "Crédit Agricole", "bic": "AGRIFRPP"}
        )
        cls.journal = cls.company_data["default_journal_bank"]
        cls.journal.bank_account_id = cls.env["res.partner.bank"].create(
            {
                "partner_id": cls.company.partner_id.id,
                "acc_number": "FR7630006000011234567890189",
                "bank_id": bank.id,
            }
        )
        cls.company.write(
            {
                "sepa_creditor_identifier": "FR72ZZZ123456",
                "sepa_journal_id": cls.journal.id,
                "sepa_prenotification_days": 14,
                "sepa_pain_version": "pain.008.001.08",
            }
        )
        debtor_bank = cls.env["res.bank"].create(
            {"name": "La Banque", "bic": "CCBPFRPP"}
        )
        cls.customer_account = cls.env["res.partner.bank"].create(
            {
                "partner_id": cls.customer.id,
                "acc_number": "FR1420041010050500013M02606",
                "bank_id": debtor_bank.id,
            }
        )
        cls.mandate = cls._mandate(cls.customer, cls.customer_account)
        cls.other_account = cls.env["res.partner.bank"].create(
            {
                "partner_id": cls.partner_a.id,
                "acc_number": "DE89370400440532013000",
                "bank_id": debtor_bank.id,
            }
        )
        cls.other_mandate = cls._mandate(cls.partner_a, cls.other_account)
        cls.other_mandate.last_debit_date = "2026-12-15"  # collected before: RCUR

    @classmethod
    def _mandate(cls, partner, account, **values):
        mandate = cls.env["subscription.sepa.mandate"].create(
            {
                "partner_id": partner.id,
                "partner_bank_id": account.id,
                "signature_date": "2026-12-01",
                "signature_place": "Lyon",
                **values,
            }
        )
        mandate.action_validate()
        return mandate

    def _sdd_contract(self, partner, mandate, **values):
        values.setdefault("currency_id", self.eur.id)
        contract = self._create_contract(
            partner=partner,
            date_start="2027-01-01",
            payment_method="sepa_direct_debit",
            mandate_id=mandate.id,
            user_id=self.user_sales.id,
            **values,
        )
        contract.action_start()
        return contract

    def _bill_and_batch(self):
        first = self._sdd_contract(self.customer, self.mandate)
        second = self._sdd_contract(self.partner_a, self.other_mandate)
        with freeze_time("2027-01-01"):
            moves = (first | second)._generate_invoices()
            moves._subscription_send()  # delivered: reminders wait for it
            self.env["mail.mail"].search([]).unlink()
            batch = self.env["subscription.sepa.batch"]._cron_prepare_batches()
        return first, second, moves, batch


@tagged("post_install", "-at_install")
class TestSepa(SepaCommon):
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

    # --- collections ----------------------------------------------------------

    def test_batch_with_first_and_recurrent_debits_and_a_valid_file(self):
        first, second, moves, batch = self._bill_and_batch()
        self.assertEqual(len(batch), 1)
        self.assertEqual(batch.collection_date, D("2027-01-15"))
        self.assertEqual(len(batch.line_ids), 2)
        by_move = {line.move_id: line for line in batch.line_ids}
        first_line = by_move[moves.filtered(lambda m: m.partner_id == self.customer)]
        second_line = by_move[moves.filtered(lambda m: m.partner_id == self.partner_a)]
        self.assertEqual(first_line.sequence_type, "FRST")
        self.assertEqual(second_line.sequence_type, "RCUR")
        self.assertTrue(all(moves.mapped("payment_collection_pending")))
        # No reminder while the debit is under way.
        self.assertFalse(
            self.env["account.move"].search(
                [
                    *self.env["account.move"]._get_reminder_due_domain(),
                    ("id", "in", moves.ids),
                ]
            )
        )
        batch.action_generate()
        self.assertEqual(batch.state, "generated")
        xml = batch.file_id.raw
        self.assertTrue(sepa.validate_pain008(xml, "pain.008.001.08"))
        tree = etree.fromstring(xml)

        def texts(tag):
            return [node.text for node in tree.iter(f"{{*}}{tag}")]

        self.assertEqual(sorted(texts("InstdAmt")), ["240.00", "240.00"])
        self.assertEqual(set(texts("ReqdColltnDt")), {"2027-01-15"})
        self.assertEqual(
            sorted(texts("MndtId")),
            sorted([self.mandate.name, self.other_mandate.name]),
        )
        self.assertIn("FR72ZZZ123456", texts("Id"))
        self.assertEqual(sorted(texts("SeqTp")), ["FRST", "RCUR"])
        self.assertEqual(texts("MsgId"), [batch.message_identifier])
        self.assertEqual(len(set(texts("EndToEndId"))), 2)

    def test_prenotification_email(self):
        __, __, moves, batch = self._bill_and_batch()
        move = moves.filtered(lambda m: m.partner_id == self.customer)
        mail = self.env["mail.mail"].search(
            [("model", "=", "account.move"), ("res_id", "=", move.id)]
        )
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.recipient_ids, self.customer)
        self.assertIn("01/15/2027", mail.subject)
        self.assertIn("240.00", mail.body_html)  # 200 EUR + 20% VAT
        self.assertIn(self.mandate.name, mail.body_html)
        self.assertIn("FR72ZZZ123456", mail.body_html)
        self.assertTrue(all(batch.line_ids.mapped("prenotified")))
        # The cron run again adds nothing: each invoice is in one collection.
        with freeze_time("2027-01-02"):
            again = self.env["subscription.sepa.batch"]._cron_prepare_batches()
        self.assertFalse(again)

    def test_done_registers_and_reconciles_payments(self):
        __, __, moves, batch = self._bill_and_batch()
        batch.action_generate()
        batch.action_mark_sent()
        batch.action_done()
        self.assertEqual(batch.state, "done")
        self.assertTrue(
            set(moves.mapped("payment_state")) <= {"in_payment", "paid"},
            moves.mapped("payment_state"),
        )
        for line in batch.line_ids:
            self.assertIn(line.payment_id, line.move_id._get_reconciled_payments())
        self.assertEqual(self.mandate.last_debit_date, D("2027-01-15"))
        self.assertFalse(any(moves.mapped("payment_collection_pending")))

    def test_rejection_reopens_the_invoice_and_back_to_reminders(self):
        first, __, moves, batch = self._bill_and_batch()
        batch.action_generate()
        batch.action_mark_sent()
        batch.action_done()
        line = batch.line_ids.filtered(lambda line: line.mandate_id == self.mandate)
        wizard = Form(
            self.env["subscription.sepa.reject"].with_context(default_batch_id=batch.id)
        )
        wizard.line_ids.add(line)
        wizard.code = "AM04"
        wizard.save().action_reject()
        self.assertEqual(line.state, "rejected")
        self.assertEqual(line.move_id.payment_state, "not_paid")
        self.assertTrue(line.move_id.sepa_rejected)
        self.assertIn("Direct debit rejected", first.activity_ids.mapped("summary"))
        self.assertEqual(batch.amount_total, 240.0)
        self.assertEqual(self.mandate.state, "active")
        with freeze_time("2027-02-08"):
            due = self.env["account.move"].search(
                self.env["account.move"]._get_reminder_due_domain()
            )
        self.assertIn(line.move_id, due)

    def test_md01_revokes_the_mandate(self):
        __, __, __, batch = self._bill_and_batch()
        batch.action_generate()
        batch.action_mark_sent()
        line = batch.line_ids.filtered(lambda line: line.mandate_id == self.mandate)
        self.env["subscription.sepa.reject"].create(
            {"batch_id": batch.id, "line_ids": [Command.set(line.ids)], "code": "MD01"}
        ).action_reject()
        self.assertEqual(self.mandate.state, "revoked")

    def test_non_euro_invoice_is_refused_with_a_message(self):
        contract = self._sdd_contract(
            self.customer, self.mandate, currency_id=self.company.currency_id.id
        )
        with freeze_time("2027-01-01"):
            move = contract._generate_invoices()
            batch = self.env["subscription.sepa.batch"]._cron_prepare_batches()
        self.assertFalse(batch)
        self.assertIn("SEPA collects euros only", move.message_ids[0].body)

    def test_access_rights(self):
        __, __, __, batch = self._bill_and_batch()
        with self.assertRaises(AccessError):
            batch.with_user(self.user_sales).action_generate()
        self.assertTrue(batch.with_user(self.user_sales).read(["name"]))
        accountant = self.env["res.users"].create(
            {
                "name": "Bob Books",
                "login": "bob_books",
                "email": "bob@example.com",
                "groups_id": [
                    Command.set(self.env.ref("account.group_account_invoice").ids)
                ],
                "company_id": self.company.id,
                "company_ids": [Command.set(self.company.ids)],
            }
        )
        batch.with_user(accountant).action_generate()
        self.assertEqual(batch.state, "generated")

    def test_collection_date_follows_the_prenotification_days(self):
        self.company.sepa_prenotification_days = 3
        with freeze_time("2027-01-01"):
            self.assertEqual(
                sepa.earliest_collection_date(
                    self.company._subscription_today(),
                    self.company.sepa_prenotification_days,
                ),
                D("2027-01-04"),
            )
        with self.assertRaisesRegex(ValidationError, "at least 1 day"):
            self.company.sepa_prenotification_days = 0

    def test_bounded_batches_fill_the_same_collection(self):
        first = self._sdd_contract(self.customer, self.mandate)
        second = self._sdd_contract(self.partner_a, self.other_mandate)
        cron = self.env.ref("subscription_billing.ir_cron_subscription_sepa_batches")
        progress = self.env["ir.cron.progress"].create({"cron_id": cron.id})
        model = self.env["subscription.sepa.batch"].with_context(
            ir_cron_progress_id=progress.id
        )
        with freeze_time("2027-01-01"):
            (first | second)._generate_invoices()
            batch = model._cron_prepare_batches(batch_size=1)
            self.assertEqual((progress.done, progress.remaining), (1, 1))
            again = model._cron_prepare_batches(batch_size=1)
            self.assertEqual((progress.done, progress.remaining), (1, 0))
        self.assertEqual(again, batch)
        self.assertEqual(len(batch.line_ids), 2)
