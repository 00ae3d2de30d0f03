from freezegun import freeze_time
from lxml import etree

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from ..lib import sepa
from .common import SepaCommon

D = fields.Date.to_date


def _texts(xml, tag):
    return [node.text for node in etree.fromstring(xml).iter(f"{{*}}{tag}")]


@tagged("post_install", "-at_install")
class TestSepaCollections(SepaCommon):
    """Collections never take money twice, too early, or from the wrong account."""

    def _file(self, batch, version="pain.008.001.08"):
        xml = batch.file_id.raw
        # Every file the tests produce is validated against its official XSD.
        self.assertTrue(sepa.validate_pain008(xml, version))
        return xml

    def _pay_by_transfer(self, move):
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=move.ids
        ).create({"payment_date": "2027-01-05"})._create_payments()

    # --- scheme ---------------------------------------------------------------

    def test_b2b_and_core_debits_go_out_in_their_own_collection(self):
        b2b_mandate = self._mandate(self.partner_a, self.other_account, scheme="B2B")
        self._sdd_contract(self.customer, self.mandate)
        self._sdd_contract(self.partner_a, b2b_mandate)
        with freeze_time("2027-01-01"):
            contracts = self.env["subscription.contract"].search(
                [("mandate_id", "in", (self.mandate | b2b_mandate).ids)]
            )
            contracts._generate_invoices()
            batches = self.env["subscription.sepa.batch"]._cron_prepare_batches()
            self.assertEqual(sorted(batches.mapped("scheme")), ["B2B", "CORE"])
            batches.action_generate()
        for batch in batches:
            tree = etree.fromstring(self._file(batch))
            self.assertEqual(
                [node.text for node in tree.iterfind(".//{*}LclInstrm/{*}Cd")],
                [batch.scheme],
            )
        b2b = batches.filtered(lambda b: b.scheme == "B2B")
        self.assertEqual(b2b.line_ids.mandate_id, b2b_mandate)
        self.assertEqual(_texts(b2b.file_id.raw, "MndtId"), [b2b_mandate.name])

    # --- one-off mandates -----------------------------------------------------

    def test_oneoff_mandate_is_used_after_its_one_debit(self):
        oneoff = self._mandate(
            self.customer, self.customer_account, mandate_type="oneoff"
        )
        contract = self._sdd_contract(self.customer, oneoff)
        with freeze_time("2027-01-01"):
            january = contract._generate_invoices()
            batch = self.env["subscription.sepa.batch"]._cron_prepare_batches()
            self.assertEqual(batch.line_ids.sequence_type, "OOFF")
            batch.action_generate()
            self._file(batch)
            batch.action_mark_sent()
            batch.action_done()
        self.assertEqual(oneoff.state, "used")
        self.assertIn(january.payment_state, ("paid", "in_payment"))
        with freeze_time("2027-02-01"):
            february = contract._generate_invoices()
            again = self.env["subscription.sepa.batch"]._cron_prepare_batches()
        self.assertFalse(again)
        self.assertFalse(february.payment_collection_pending)
        self.assertFalse(
            self.env["subscription.sepa.batch.line"].search(
                [("move_id", "=", february.id)]
            )
        )

    def test_oneoff_mandate_never_in_two_collections(self):
        oneoff = self._mandate(
            self.customer, self.customer_account, mandate_type="oneoff"
        )
        contract = self._sdd_contract(self.customer, oneoff)
        with freeze_time("2027-01-01"):
            contract._generate_invoices()
            self.env["subscription.sepa.batch"]._cron_prepare_batches()
        with freeze_time("2027-02-01"):
            february = contract._generate_invoices()
            self.env["subscription.sepa.batch"]._cron_prepare_batches()
        self.assertEqual(len(oneoff.batch_line_ids), 1)
        self.assertFalse(february.payment_collection_pending)

    # --- between preparation and file ---------------------------------------

    def test_revoking_takes_the_debits_out_of_unsent_collections(self):
        __, __, moves, batch = self._bill_and_batch()
        batch.action_generate()
        move = moves.filtered(lambda m: m.partner_id == self.customer)
        with freeze_time("2027-01-05"):
            self.mandate.action_revoke()
        self.assertEqual(batch.state, "draft", "the file with the debit is withdrawn")
        self.assertFalse(batch.file_id)
        self.assertEqual(batch.line_ids.move_id, moves - move)
        self.assertFalse(move.payment_collection_pending)
        self.assertIn("left out of collection", move.message_ids[0].body)
        with freeze_time("2027-02-08"):
            due = self.env["account.move"].search(
                self.env["account.move"]._get_reminder_due_domain()
            )
        self.assertIn(move, due, "back to the reminders")
        with freeze_time("2027-01-06"):
            batch.action_generate()
        self.assertEqual(_texts(self._file(batch), "MndtId"), [self.other_mandate.name])

    def test_generate_rechecks_every_debit(self):
        __, __, moves, batch = self._bill_and_batch()
        paid = moves.filtered(lambda m: m.partner_id == self.customer)
        self._pay_by_transfer(paid)
        with freeze_time("2027-01-06"):
            batch.action_generate()
        self.assertEqual(batch.line_ids.move_id, moves - paid)
        self.assertEqual(_texts(self._file(batch), "MndtId"), [self.other_mandate.name])
        self.assertIn("the invoice is paid", " ".join(batch.message_ids.mapped("body")))
        self.assertIn("the invoice is paid", paid.message_ids[0].body)
        self.assertFalse(paid.payment_collection_pending)

    def test_generate_leaves_out_reversed_changed_and_inactive(self):
        __, __, moves, batch = self._bill_and_batch()
        reversed_move = moves.filtered(lambda m: m.partner_id == self.customer)
        with freeze_time("2027-01-05"):
            self.env["account.move.reversal"].with_context(
                active_model="account.move", active_ids=reversed_move.ids
            ).create(
                {"journal_id": reversed_move.journal_id.id, "date": "2027-01-05"}
            ).refund_moves()
            self.env["account.move"].search(
                [("reversed_entry_id", "=", reversed_move.id)]
            ).action_post()
        self.other_mandate.state = "expired"
        batch.action_generate()
        self.assertFalse(batch.line_ids)
        self.assertEqual(batch.state, "draft")
        self.assertFalse(batch.file_id)
        bodies = " ".join(batch.message_ids.mapped("body"))
        self.assertIn("reversed by a credit note", bodies)
        self.assertIn(f"mandate {self.other_mandate.name} is expired", bodies)

    def test_changed_amount_is_left_out_and_collected_again(self):
        __, __, moves, batch = self._bill_and_batch()
        move = moves.filtered(lambda m: m.partner_id == self.customer)
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=move.ids
        ).create({"payment_date": "2027-01-05", "amount": 40.0})._create_payments()
        batch.action_generate()
        self.assertNotIn(move, batch.line_ids.move_id)
        self.assertIn("amount due changed", move.message_ids[0].body)
        with freeze_time("2027-01-02"):
            self.env["subscription.sepa.batch"]._cron_prepare_batches()
        line = self.env["subscription.sepa.batch.line"].search(
            [("move_id", "=", move.id)]
        )
        self.assertEqual(line.amount, 200.0)

    # --- collection date ------------------------------------------------------

    def test_past_collection_date_moves_to_the_next_target_day(self):
        __, __, moves, batch = self._bill_and_batch()
        self.env["mail.mail"].search([]).unlink()
        self.assertEqual(batch.collection_date, D("2027-01-15"))
        # Generated on Friday 22 January: the bank can collect on Monday 25.
        with freeze_time("2027-01-22 10:00"):
            batch.action_generate()
        self.assertEqual(batch.collection_date, D("2027-01-25"))
        self.assertEqual(set(_texts(self._file(batch), "ReqdColltnDt")), {"2027-01-25"})
        mails = self.env["mail.mail"].search(
            [("model", "=", "account.move"), ("res_id", "in", moves.ids)]
        )
        # The debtor with an email gets a new email, the other a new letter.
        self.assertEqual(mails.recipient_ids, self.customer)
        self.assertIn("01/25/2027", mails.subject)
        for move in moves:
            self.assertIn(
                "moved from 01/15/2027 to 01/25/2027", move.message_ids[0].body
            )
        other = moves.filtered(lambda m: m.partner_id == self.partner_a)
        self.assertEqual(
            len(other.activity_ids.filtered(lambda a: "notice" in a.summary)), 2
        )

    def test_collection_date_is_a_target_day(self):
        # Easter 2027: Good Friday 26 March, Easter Monday 29 March.
        self.assertEqual(sepa.min_collection_date(D("2027-03-25")), D("2027-03-30"))
        self.assertEqual(
            sepa.earliest_collection_date(D("2027-12-11"), 14), D("2027-12-27")
        )

    # --- the collection run --------------------------------------------------

    def test_revoked_mandate_invoices_never_stall_the_run(self):
        revoked = self._create_contract(
            partner=self.customer,
            date_start="2026-12-01",
            payment_method="sepa_direct_debit",
            mandate_id=self.mandate.id,
            currency_id=self.eur.id,
        )
        revoked.action_start()
        active = self._sdd_contract(self.partner_a, self.other_mandate)
        with freeze_time("2026-12-01"):
            old = revoked._generate_invoices()
        with freeze_time("2027-01-01"):
            new = active._generate_invoices()
        self.mandate.action_revoke()
        cron = self.env.ref("subscription_billing.ir_cron_subscription_sepa_batches")
        progress = self.env["ir.cron.progress"].create({"cron_id": cron.id})
        model = self.env["subscription.sepa.batch"].with_context(
            ir_cron_progress_id=progress.id
        )
        with freeze_time("2027-01-01"):
            batch = model._cron_prepare_batches(batch_size=1)
        self.assertTrue(old)
        self.assertEqual(batch.line_ids.move_id, new)
        self.assertEqual((progress.done, progress.remaining), (1, 0))

    # --- reminders -------------------------------------------------------------

    def test_manual_reminder_respects_the_collection(self):
        __, __, moves, __ = self._bill_and_batch()
        move = moves[0]
        self.assertTrue(move.reminder_next_step_id)
        with (
            freeze_time("2027-02-08"),
            self.assertRaisesRegex(UserError, "being collected by direct debit"),
        ):
            move.action_send_next_reminder()
        self.assertFalse(move.reminder_log_ids)

    # --- mandate data ----------------------------------------------------------

    def test_mandate_reference_checked_when_typed(self):
        draft = self.env["subscription.sepa.mandate"].create(
            {
                "partner_id": self.customer.id,
                "partner_bank_id": self.customer_account.id,
            }
        )
        for bad in ("RÉF 2027", "A" * 36, "/REF", "REF//1", "REF 1"):
            with self.assertRaisesRegex(ValidationError, "cannot be sent to the bank"):
                draft.name = bad
        draft.name = "REF-2027-1"
        other_company = self.env["res.company"].create(
            {"name": "Sister company", "sepa_creditor_identifier": "FR72ZZZ123456"}
        )
        self.env.user.company_ids += other_company
        other_partner = self.env["res.partner"].create(
            {"name": "Debtor", "company_id": other_company.id}
        )
        account = self.env["res.partner.bank"].create(
            {
                "partner_id": other_partner.id,
                "acc_number": "NL91ABNA0417164300",
                "company_id": other_company.id,
            }
        )
        with self.assertRaisesRegex(ValidationError, "already used with creditor"):
            self.env["subscription.sepa.mandate"].create(
                {
                    "name": "REF-2027-1",
                    "company_id": other_company.id,
                    "partner_id": other_partner.id,
                    "partner_bank_id": account.id,
                }
            )

    def test_debtor_and_creditor_iban_checked_when_edited(self):
        with self.assertRaisesRegex(ValidationError, "not a valid IBAN"):
            self.customer_account.acc_number = "FR1420041010050500013M02607"
        with self.assertRaisesRegex(ValidationError, "not a valid IBAN"):
            self.journal.bank_account_id.acc_number = "FR7630006000011234567890188"

    def test_changed_debtor_account_sent_as_amendment(self):
        __, __, __, batch = self._bill_and_batch()
        batch.action_generate()
        batch.action_mark_sent()
        batch.action_done()
        original = self.other_account.acc_number
        # Same bank, new account number.
        self.other_account.acc_number = "DE62370400440532013001"
        self.assertEqual(self.other_mandate.amendment_original_iban, original)
        # Another bank for the first mandate (collected in January).
        new_bank = self.env["res.bank"].create({"name": "Other", "bic": "BNPAFRPP"})
        self.mandate.partner_bank_id = self.env["res.partner.bank"].create(
            {
                "partner_id": self.customer.id,
                "acc_number": "FR7630004000031234567890143",
                "bank_id": new_bank.id,
            }
        )
        self.assertTrue(self.mandate.amendment_other_bank)
        with freeze_time("2027-02-01"):
            (batch.line_ids.move_id.subscription_contract_id)._generate_invoices()
            february = self.env["subscription.sepa.batch"]._cron_prepare_batches()
            february.action_generate()
        xml = self._file(february)
        tree = etree.fromstring(xml)
        by_mandate = {
            tx.findtext(".//{*}MndtId"): tx for tx in tree.iter("{*}DrctDbtTxInf")
        }
        same_bank = by_mandate[self.other_mandate.name]
        self.assertEqual(same_bank.findtext(".//{*}AmdmntInd"), "true")
        self.assertEqual(
            same_bank.findtext(".//{*}OrgnlDbtrAcct/{*}Id/{*}IBAN"),
            original.replace(" ", ""),
        )
        self.assertEqual(
            same_bank.findtext(".//{*}DbtrAcct/{*}Id/{*}IBAN"), "DE62370400440532013001"
        )
        other_bank = by_mandate[self.mandate.name]
        self.assertEqual(
            other_bank.findtext(".//{*}OrgnlDbtrAcct/{*}Id/{*}Othr/{*}Id"), "SMNDA"
        )
        february.action_mark_sent()
        self.assertFalse(self.other_mandate.amendment_original_iban)
        self.assertFalse(self.mandate.amendment_other_bank)

    def test_debtor_without_email_gets_an_activity_and_a_letter(self):
        self.customer.email = False
        __, __, moves, __ = self._bill_and_batch()
        move = moves.filtered(lambda m: m.partner_id == self.customer)
        activity = move.activity_ids.filtered(
            lambda a: a.summary == "Post the direct debit notice"
        )
        self.assertEqual(activity.user_id, self.user_sales)
        letter = self.env["ir.attachment"].search(
            [
                ("res_model", "=", "account.move"),
                ("res_id", "=", move.id),
                ("name", "like", "Direct debit notice"),
            ]
        )
        self.assertEqual(len(letter), 1)
        self.assertIn(letter, move.message_ids.attachment_ids)
        self.assertFalse(
            self.env["mail.mail"].search(
                [("model", "=", "account.move"), ("res_id", "=", move.id)]
            )
        )
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "subscription_billing.action_report_sepa_prenotification",
                move.sudo()
                .env["subscription.sepa.batch.line"]
                .search([("move_id", "=", move.id)])
                .ids,
            )[0]
            .decode()
        )
        self.assertIn(self.mandate.name, html)
        self.assertIn("01/15/2027", html)

    def test_mandate_with_a_debit_under_way_does_not_expire(self):
        __, __, __, batch = self._bill_and_batch()
        self.assertIn(self.mandate, batch.line_ids.mandate_id)
        with freeze_time("2029-12-02"):
            expired = self.env["subscription.sepa.mandate"]._cron_expire_mandates()
        self.assertFalse(expired)
        self.assertEqual(self.mandate.state, "active")

    def test_a_salesperson_revokes_a_mandate_with_a_debit_under_way(self):
        __, __, moves, batch = self._bill_and_batch()
        self.mandate.with_user(self.user_sales).action_revoke()
        self.assertEqual(self.mandate.state, "revoked")
        self.assertEqual(batch.line_ids.mandate_id, self.other_mandate)
        # A user who may not read mandates still edits a bank account.
        contacts = new_test_user(
            self.env,
            login="i13_contacts",
            groups="base.group_user,base.group_partner_manager",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        self.other_account.with_user(contacts).write(
            {"acc_number": "DE62370400440532013001"}
        )
        self.assertTrue(self.other_mandate.amendment_original_iban)

    # --- a collection from billing to payment ----------------------------------

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

    def test_non_euro_invoice_is_refused_with_a_message(self):
        contract = self._sdd_contract(
            self.customer, self.mandate, currency_id=self.company.currency_id.id
        )
        with freeze_time("2027-01-01"):
            move = contract._generate_invoices()
            batch = self.env["subscription.sepa.batch"]._cron_prepare_batches()
        self.assertFalse(batch)
        self.assertIn("SEPA collects euros only", move.message_ids[0].body)

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
