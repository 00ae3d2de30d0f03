"""Bank returns as they reach a real creditor (issue 21): files written by hand
from the ISO 20022 definitions (each validated against the official XSD of
lib/schemas/ before import), imported by the accountants the Direct Debit menu
is for, and what each reason code does to the mandate."""

import base64

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from ..lib import sepa_return
from ..models.subscription_sepa_batch import REJECTION_CODES, REJECTION_EFFECTS
from .common import SepaCommon

D = fields.Date.to_date

CAMT054_02 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr>
      <MsgId>{msg_id}</MsgId>
      <CreDtTm>{day}T07:30:00</CreDtTm>
    </GrpHdr>
    <Ntfctn>
      <Id>{msg_id}-N1</Id>
      <CreDtTm>{day}T07:30:00</CreDtTm>
      <Acct><Id><IBAN>FR7630006000011234567890189</IBAN></Id></Acct>
      {entries}
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
"""

# One booked entry (the return of a direct debit, debiting the creditor's
# account) with its transactions.
NTRY = """<Ntry>
        <Amt Ccy="EUR">{amount}</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>{day}</Dt></BookgDt>
        <ValDt><Dt>{day}</Dt></ValDt>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RDDT</Cd><SubFmlyCd>UPDD</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>{transactions}</NtryDtls>
      </Ntry>"""

# A transaction: the instructed amount (the shape real bank files use), the
# transaction amount only when given.
TXDTLS = """<TxDtls>
          <Refs><EndToEndId>{e2e}</EndToEndId></Refs>
          {amounts}
          <RtrInf><Rsn><Cd>{code}</Cd></Rsn><AddtlInf>{info}</AddtlInf></RtrInf>
        </TxDtls>"""

PAIN002_03 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>{day}T06:00:00</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts>
      <OrgnlMsgId>{original}</OrgnlMsgId>
      <OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId>
      <GrpSts>PART</GrpSts>
    </OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>{original}-1</OrgnlPmtInfId>
      <TxInfAndSts>
        <StsId>{msg_id}-1</StsId>
        <OrgnlEndToEndId>{e2e}</OrgnlEndToEndId>
        <TxSts>RJCT</TxSts>
        <StsRsnInf><Rsn><Cd>{code}</Cd></Rsn></StsRsnInf>
        {reference}
      </TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>
"""


def camt054(msg_id, day, entries):
    return CAMT054_02.format(msg_id=msg_id, day=day, entries="".join(entries)).encode()


def ntry(day, amount, transactions):
    return NTRY.format(day=day, amount=amount, transactions="".join(transactions))


def camt054_return(msg_id, e2e, code, amount="240.00", instructed="240.00"):
    """A camt.054 of 19 January 2027 returning one debit: one entry of
    ``amount`` for one transaction of ``instructed``."""
    return camt054(
        msg_id,
        "2027-01-19",
        [ntry("2027-01-19", amount, [txdtls(e2e, code, instructed=instructed)])],
    )


def txdtls(e2e, code, instructed=None, transaction=None, info="Return"):
    amounts = ""
    if instructed or transaction:
        amounts = "<AmtDtls>"
        if instructed:
            amounts += f'<InstdAmt><Amt Ccy="EUR">{instructed}</Amt></InstdAmt>'
        if transaction:
            amounts += f'<TxAmt><Amt Ccy="EUR">{transaction}</Amt></TxAmt>'
        amounts += "</AmtDtls>"
    return TXDTLS.format(e2e=e2e, amounts=amounts, code=code, info=info)


class ReturnCommon(SepaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The users the Direct Debit menu is shown to.
        cls.billing = new_test_user(
            cls.env,
            login="i21_billing",
            name="Bea Billing",
            groups="base.group_user,subscription_billing.group_subscription_user,"
            "account.group_account_invoice",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.adviser = new_test_user(
            cls.env,
            login="i21_adviser",
            name="Adam Admin",
            groups="base.group_user,subscription_billing.group_subscription_user,"
            "account.group_account_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )

    def _collected(self):
        """January: both debits sent and collected (Collected clicked)."""
        first, second, moves, batch = self._bill_and_batch()
        batch.action_generate()
        batch.action_mark_sent()
        batch.action_done()
        line = batch.line_ids.filtered(lambda line: line.mandate_id == self.mandate)
        return first, second, moves, batch, line

    def _import(self, content, user, filename="bank.xml"):
        sepa_return.validate(content)  # valid against the official XSD
        wizard = (
            self.env["subscription.sepa.return.import"]
            .with_user(user)
            .create({"data_file": base64.b64encode(content), "filename": filename})
        )
        action = wizard.action_import()
        return self.env["subscription.sepa.return"].browse(action["res_id"])

    def _pain002(self, batch, line, code, day="2027-01-16", amount=None):
        reference = (
            "<OrgnlTxRef><Amt>"
            f'<InstdAmt Ccy="EUR">{amount}</InstdAmt>'
            "</Amt></OrgnlTxRef>"
            if amount
            else ""
        )
        return PAIN002_03.format(
            msg_id=f"STS-{code}-{line.id}",
            day=day,
            original=batch.message_identifier,
            e2e=line.end_to_end_id,
            code=code,
            reference=reference,
        ).encode()

    def _february_batch(self, contracts):
        with freeze_time("2027-02-01"):
            contracts._generate_invoices()
            return self.env["subscription.sepa.batch"]._cron_prepare_batches()


@tagged("post_install", "-at_install")
class TestSepaReturnAmounts(ReturnCommon):
    """Point 1: every amount the camt.054 / pain.002 gives is read and checked."""

    def test_camt054_return_of_another_amount_is_not_recorded(self):
        __, __, __, __, line = self._collected()
        invoice = line.move_id
        state = invoice.payment_state
        # 24.00 of a 240.00 debit, in InstdAmt and in the entry's Amt.
        content = camt054_return(
            "NTF-AMT-1", line.end_to_end_id, "AM04", amount="24.00", instructed="24.00"
        )
        record = self._import(content, self.billing)
        self.assertEqual(record.line_ids.state, "mismatch")
        self.assertIn("24.00", record.line_ids.reason)
        self.assertIn("240.00", record.line_ids.reason)
        self.assertEqual((record.applied_count, record.unmatched_count), (0, 1))
        self.assertEqual(line.state, "collected")
        self.assertEqual(
            line.payment_id.state, "paid" if state == "paid" else "in_process"
        )
        self.assertEqual(invoice.payment_state, state)
        self.assertIn("not recorded", invoice.message_ids[0].body)

    def test_camt054_entry_amount_disagreeing_with_the_transaction(self):
        __, __, __, __, line = self._collected()
        content = camt054_return(
            "NTF-AMT-2", line.end_to_end_id, "AM04", amount="120.00"
        )
        record = self._import(content, self.billing)
        self.assertEqual(record.line_ids.state, "mismatch")
        self.assertIn("Amt 120.00", record.line_ids.reason)

    def test_camt054_amounts_read_wherever_they_are(self):
        __, __, __, batch, line = self._collected()
        other = batch.line_ids - line
        content = camt054(
            "NTF-AMT-3",
            "2027-01-19",
            [
                # Only the instructed amount and the entry's.
                ntry(
                    "2027-01-19",
                    "240.00",
                    [txdtls(line.end_to_end_id, "AM04", instructed="240.00")],
                ),
                # Only the transaction amount, in an entry of two transactions.
                ntry(
                    "2027-01-19",
                    "480.00",
                    [
                        txdtls(other.end_to_end_id, "AM04", transaction="240.00"),
                        txdtls("NOT-OURS-9", "AM04"),
                    ],
                ),
            ],
        )
        record = self._import(content, self.billing)
        by_e2e = {r.end_to_end_id: r for r in record.line_ids}
        self.assertEqual(by_e2e[line.end_to_end_id].state, "applied")
        self.assertEqual(by_e2e[line.end_to_end_id].date, D("2027-01-19"))
        self.assertEqual(by_e2e[other.end_to_end_id].state, "applied")
        self.assertEqual(by_e2e["NOT-OURS-9"].state, "unknown")

    def test_camt054_without_any_amount_is_not_recorded(self):
        __, __, __, batch, line = self._collected()
        other = batch.line_ids - line
        # Two transactions in one entry, none with its amount: the entry's
        # total is not theirs, and nothing is taken from the debit.
        content = camt054(
            "NTF-AMT-4",
            "2027-01-19",
            [
                ntry(
                    "2027-01-19",
                    "480.00",
                    [
                        txdtls(line.end_to_end_id, "AM04"),
                        txdtls(other.end_to_end_id, "AM04"),
                    ],
                )
            ],
        )
        record = self._import(content, self.billing)
        self.assertEqual(set(record.line_ids.mapped("state")), {"mismatch"})
        self.assertIn("no amount", record.line_ids[0].reason)
        self.assertEqual(set(batch.line_ids.mapped("state")), {"collected"})

    def test_pain002_original_amount_is_checked(self):
        __, __, __, batch, line = self._collected()
        record = self._import(
            self._pain002(batch, line, "AM04", amount="24.00"), self.billing
        )
        self.assertEqual(record.line_ids.state, "mismatch")
        self.assertEqual(line.state, "collected")


@tagged("post_install", "-at_install")
class TestSepaFirstDebitReturned(ReturnCommon):
    """Point 2: a FRST debit that came back never happened."""

    def test_first_debit_rejected_after_collected_stays_first(self):
        cases = {
            "pain.002 MS02 on the 16th": lambda batch, line: self._pain002(
                batch, line, "MS02"
            ),
            "camt.054 MS03 on the 19th": lambda batch, line: camt054_return(
                f"NTF-FRST-{line.id}", line.end_to_end_id, "MS03"
            ),
        }
        for case, build in cases.items():
            with self.subTest(case=case), self.env.cr.savepoint() as savepoint:
                first, second, __, batch, line = self._collected()
                self.assertEqual(line.sequence_type, "FRST")
                self.assertEqual(self.mandate.last_debit_date, D("2027-01-15"))
                self._import(build(batch, line), self.billing)
                self.assertEqual(line.state, "rejected")
                self.assertFalse(self.mandate.last_debit_date)
                february = self._february_batch(first | second)
                debit = february.line_ids.filtered(
                    lambda debit: debit.mandate_id == self.mandate
                )
                self.assertEqual(debit.sequence_type, "FRST")
                savepoint.close(rollback=True)
                self.env.invalidate_all()

    def test_returned_debit_does_not_push_the_expiry_back(self):
        __, __, __, batch, line = self._collected()
        self._import(self._pain002(batch, line, "MS02"), self.billing)
        # Signed on 1 December 2026, never debited: expired 36 months later.
        with freeze_time("2029-12-02"):
            expired = self.env["subscription.sepa.mandate"]._cron_expire_mandates()
        self.assertIn(self.mandate, expired)

    def test_oneoff_mandate_whose_debit_came_back_is_unused(self):
        oneoff = self._mandate(
            self.customer, self.customer_account, mandate_type="oneoff"
        )
        contract = self._sdd_contract(self.customer, oneoff)
        with freeze_time("2027-01-01"):
            contract._generate_invoices()
            batch = self.env["subscription.sepa.batch"]._cron_prepare_batches()
            batch.action_generate()
        batch.action_mark_sent()
        batch.action_done()
        self.assertEqual(oneoff.state, "used")
        self._import(self._pain002(batch, batch.line_ids, "MS02"), self.billing)
        self.assertEqual(oneoff.state, "active")
        self.assertFalse(oneoff.last_debit_date)
        february = self._february_batch(contract)
        self.assertEqual(february.line_ids.mandate_id, oneoff)
        self.assertEqual(february.line_ids.sequence_type, "OOFF")


@tagged("post_install", "-at_install")
class TestSepaReturnEffects(ReturnCommon):
    """Point 3: what each EPC reason code does to the mandate."""

    def _mails_to(self, partner):
        return self.env["mail.mail"].search(
            [
                ("model", "=", "subscription.sepa.mandate"),
                ("recipient_ids", "in", partner.ids),
            ]
        )

    def test_every_reason_code_has_an_effect(self):
        self.assertEqual(set(REJECTION_EFFECTS), {code for code, __ in REJECTION_CODES})
        self.assertEqual(
            set(REJECTION_EFFECTS.values()), {"keep", "account", "mandate", "deceased"}
        )
        for code in ("AC01", "AC04", "AC06", "AG01"):
            self.assertEqual(REJECTION_EFFECTS[code], "account")
        for code in ("AM04", "MD06"):
            self.assertEqual(REJECTION_EFFECTS[code], "keep")

    def test_closed_account_is_not_debited_again(self):
        for code in ("AC04", "AC01", "AC06", "AG01"):
            with self.subTest(code=code), self.env.cr.savepoint() as savepoint:
                first, second, __, batch, line = self._collected()
                self.env["mail.mail"].search([]).unlink()
                content = camt054_return(f"NTF-{code}", line.end_to_end_id, code)
                self._import(content, self.billing)
                self.assertEqual(self.mandate.state, "suspended")
                self.assertIn(code, self.mandate.suspension_reason)
                activities = self.mandate.activity_ids
                self.assertEqual(len(activities), 1)
                self.assertEqual(activities.user_id, self.user_sales)
                self.assertEqual(len(self._mails_to(self.customer)), 1)
                self.assertIn("new bank details", self._mails_to(self.customer).subject)
                # No second "Direct debit rejected" to-do on the contract.
                self.assertNotIn(
                    "Direct debit rejected", first.activity_ids.mapped("summary")
                )
                february = self._february_batch(first | second)
                self.assertNotIn(self.mandate, february.line_ids.mandate_id)
                self.assertIn(self.other_mandate, february.line_ids.mandate_id)
                # The customer gives a new account: debits resume, with the
                # amendment (the mandate was never collected: none needed).
                self.mandate.with_user(self.billing).partner_bank_id = self.env[
                    "res.partner.bank"
                ].create(
                    {
                        "partner_id": self.customer.id,
                        "acc_number": "FR7630004000031234567890143",
                    }
                )
                self.assertEqual(self.mandate.state, "active")
                self.assertFalse(self.mandate.activity_ids)
                with freeze_time("2027-03-01"):
                    (first | second)._generate_invoices()
                    march = self.env["subscription.sepa.batch"]._cron_prepare_batches()
                self.assertIn(self.mandate, march.line_ids.mandate_id)
                savepoint.close(rollback=True)
                self.env.invalidate_all()

    def test_amounts_and_refunds_keep_the_mandate(self):
        for code in ("AM04", "MD06"):
            with self.subTest(code=code), self.env.cr.savepoint() as savepoint:
                first, __, __, batch, line = self._collected()
                self._import(self._pain002(batch, line, code), self.billing)
                self.assertEqual(self.mandate.state, "active")
                self.assertIn(
                    "Direct debit rejected", first.activity_ids.mapped("summary")
                )
                savepoint.close(rollback=True)
                self.env.invalidate_all()

    def test_no_mandate_and_deceased_revoke(self):
        __, __, __, batch, line = self._collected()
        other = batch.line_ids - line
        self.env["mail.mail"].search([]).unlink()
        self._import(self._pain002(batch, line, "MD01"), self.billing)
        self.assertEqual(self.mandate.state, "revoked")
        self.assertIn("new mandate", self._mails_to(self.customer).subject)
        self._import(self._pain002(batch, other, "MD07"), self.billing)
        self.assertEqual(self.other_mandate.state, "revoked")
        self.assertFalse(self._mails_to(self.partner_a), "no email to the deceased")
        self.assertIn(
            "deceased", " ".join(self.other_mandate.activity_ids.mapped("summary"))
        )

    def test_the_same_return_twice_one_email_one_activity(self):
        __, __, __, batch, line = self._collected()
        self.env["mail.mail"].search([]).unlink()
        self._import(self._pain002(batch, line, "AC04"), self.billing)
        self._import(self._pain002(batch, line, "AC04", day="2027-01-17"), self.billing)
        self.assertEqual(len(self._mails_to(self.customer)), 1)
        self.assertEqual(len(self.mandate.activity_ids), 1)


@tagged("post_install", "-at_install")
class TestSepaRejectAccess(ReturnCommon):
    """Point 4: a reject reverses the payment, for the users of the menu."""

    def _check_reversed(self, line, day):
        payment = line.payment_id
        self.assertEqual(payment.state, "rejected")
        self.assertEqual(payment.move_id.state, "posted", "never deleted")
        reversal = self.env["account.move"].search(
            [("reversed_entry_id", "=", payment.move_id.id)]
        )
        self.assertEqual(reversal.state, "posted")
        self.assertEqual(reversal.date, D(day))
        self.assertEqual(line.move_id.payment_state, "not_paid")
        self.assertEqual(line.move_id.amount_residual, 240.0)
        self.assertIn(
            "Direct debit rejected",
            line.move_id.sudo().subscription_contract_id.activity_ids.mapped("summary"),
        )

    def _first_paid(self, batch):
        # Not the last payment of its sequence: what Odoo refuses to delete.
        return batch.line_ids.sorted(lambda debit: debit.payment_id.id)[0]

    def test_billing_user_imports_a_pain002_reject(self):
        __, __, __, batch, __ = self._collected()
        line = self._first_paid(batch)
        record = self._import(self._pain002(batch, line, "AM04"), self.billing)
        self.assertEqual(record.applied_count, 1)
        self._check_reversed(line, "2027-01-16")

    def test_adviser_with_subscription_user_imports_a_camt054(self):
        __, __, __, batch, __ = self._collected()
        line = self._first_paid(batch)
        # The contract is another salesperson's: the adviser may not write on it.
        contract = line.move_id.subscription_contract_id.with_user(self.adviser)
        with self.assertRaises(AccessError):
            contract.check_access("write")
        content = camt054_return("NTF-ADV", line.end_to_end_id, "MS03")
        self._import(content, self.adviser)
        self._check_reversed(line, "2027-01-19")

    def test_billing_user_records_rejections_by_hand(self):
        __, __, __, batch, __ = self._collected()
        line = self._first_paid(batch)
        for user in (self.billing, self.adviser):
            with self.subTest(user=user.login), self.env.cr.savepoint() as savepoint:
                with freeze_time("2027-01-18"):
                    self.env["subscription.sepa.reject"].with_user(user).create(
                        {
                            "batch_id": batch.id,
                            "line_ids": [Command.set(line.ids)],
                            "code": "AM04",
                        }
                    ).action_reject()
                self._check_reversed(line, "2027-01-18")
                savepoint.close(rollback=True)
                self.env.invalidate_all()


@tagged("post_install", "-at_install")
class TestManualReminderSkips(ReturnCommon):
    """Point 5: Send Next Reminder Now skips what it must, with the reason."""

    def _transfer_contract(self):
        return self._create_contract(
            partner=self.customer,
            products=self.product_hosting,
            user_id=self.user_sales.id,
            allow_overlap=True,
        )

    def test_customer_with_a_debit_and_a_transfer_invoice(self):
        __, __, moves, __ = self._bill_and_batch()
        debit = moves.filtered(lambda m: m.partner_id == self.customer)
        transfer = self._transfer_contract()
        unsent = self._transfer_contract()
        (transfer | unsent).action_start()
        with freeze_time("2027-01-01"):
            transfer_invoice = transfer._generate_invoices()
            transfer_invoice._subscription_send()
            unsent_invoice = unsent._generate_invoices()
        self.assertFalse(unsent_invoice.invoice_sent_date)
        with freeze_time("2027-01-10"):
            action = self.customer.with_user(self.billing).action_send_next_reminders()
        self.assertTrue(transfer_invoice.reminder_log_ids)
        self.assertFalse(debit.reminder_log_ids)
        self.assertFalse(unsent_invoice.reminder_log_ids)
        message = action["params"]["message"]
        self.assertIn(transfer_invoice.name, message.split("Skipped")[0])
        self.assertIn(
            f"{debit.display_name} is being collected by direct debit", message
        )
        self.assertIn(
            f"{unsent_invoice.display_name} was never sent to the customer", message
        )
        self.assertNotIn(f"{transfer_invoice.name} is being collected", message)

    def test_one_invoice_says_its_own_reason(self):
        __, __, moves, __ = self._bill_and_batch()
        debit = moves.filtered(lambda m: m.partner_id == self.customer)
        with self.assertRaisesRegex(UserError, "being collected by direct debit"):
            debit.with_user(self.billing).action_send_next_reminder()
        transfer = self._transfer_contract()
        transfer.action_start()
        with freeze_time("2027-01-01"):
            invoice = transfer._generate_invoices()
        with self.assertRaisesRegex(UserError, "never sent to the customer"):
            invoice.with_user(self.billing).action_send_next_reminder()
        invoice._subscription_send()
        self.customer.write(
            {"reminder_paused_until": "2027-03-01", "reminder_pause_reason": "dispute"}
        )
        with (
            freeze_time("2027-01-10"),
            self.assertRaisesRegex(UserError, "paused until .* \\(dispute\\)"),
        ):
            invoice.with_user(self.billing).action_send_next_reminder()
