from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import SubscriptionCommon


@tagged("post_install", "-at_install")
class TestContractStates(SubscriptionCommon):
    @classmethod
    def default_env_context(cls):
        # State changes must be tracked in the chatter: keep tracking enabled.
        context = dict(super().default_env_context())
        context.pop("tracking_disable", None)
        context.pop("mail_notrack", None)
        return context

    def _create_contract(self, *args, **kwargs):
        contract = super()._create_contract(*args, **kwargs)
        # Mail does not track the changes of a record in the transaction that
        # created it: end that phase as a commit would.
        self._flush_tracking()
        return contract

    def _flush_tracking(self):
        self.env.flush_all()
        self.cr.flush()

    def _tracked_states(self, contract):
        """New values of the state tracked in the chatter, newest first."""
        self._flush_tracking()
        contract.invalidate_recordset(["message_ids"])
        values = contract.message_ids.tracking_value_ids.filtered(
            lambda v: v.field_id.name == "state"
        )
        return values.mapped("new_value_char")

    def test_start_needs_lines(self):
        contract = self._create_contract(line_ids=[])
        with self.assertRaisesRegex(UserError, "cannot start: add at least one line"):
            contract.action_start()

    def test_start_activates_and_tracks(self):
        contract = self._create_contract()
        contract.action_start()
        self.assertEqual(contract.state, "active")
        self.assertEqual(contract.next_invoice_date, fields.Date.to_date("2027-01-01"))
        self.assertIn("Active", self._tracked_states(contract))

    def test_start_twice_is_refused(self):
        contract = self._create_contract()
        contract.action_start()
        with self.assertRaisesRegex(UserError, "only a draft contract can be started"):
            contract.action_start()

    def test_suspend_and_resume(self):
        contract = self._create_contract()
        with self.assertRaisesRegex(
            UserError, "only suspend a contract that is Active"
        ):
            contract.action_suspend()
        contract.action_start()
        self._flush_tracking()  # each button is its own transaction
        contract.action_suspend()
        self.assertEqual(contract.state, "suspended")
        with self.assertRaisesRegex(UserError, "only suspend"):
            contract.action_suspend()
        self._flush_tracking()
        contract.action_resume()
        self.assertEqual(contract.state, "active")
        self.assertEqual(
            self._tracked_states(contract), ["Active", "Suspended", "Active"]
        )

    def test_suspension_ending_before_it_starts_is_refused_in_user_dates(self):
        contract = self._create_contract()
        contract.action_start()
        pause = self.env["subscription.contract.pause"].create(
            {"contract_id": contract.id, "date_from": "2027-03-10"}
        )
        with self.assertRaisesRegex(
            ValidationError,
            r"cannot end \(03/01/2027\) before it starts \(03/10/2027\)",
        ):
            pause.with_context(lang="en_US").date_to = "2027-03-01"

    def test_close_with_wizard_records_reason_and_date(self):
        contract = self._create_contract()
        contract.action_start()
        action = contract.action_open_close_wizard()
        self.assertEqual(action["res_model"], "subscription.contract.close")
        wizard_form = Form(
            self.env["subscription.contract.close"].with_context(**action["context"])
        )
        wizard_form.reason_id = self.close_reason
        wizard_form.close_date = fields.Date.to_date("2027-06-30")
        wizard_form.note = "Moving abroad"
        wizard_form.save().action_close()
        self.assertEqual(contract.state, "closed")
        self.assertEqual(contract.close_reason_id, self.close_reason)
        self.assertEqual(contract.close_date, fields.Date.to_date("2027-06-30"))
        self.assertEqual(contract.close_note, "Moving abroad")
        self.assertIn("Closed", self._tracked_states(contract))

    def test_close_draft_is_refused(self):
        contract = self._create_contract()
        with self.assertRaisesRegex(UserError, "only close a contract"):
            contract.action_open_close_wizard()

    def test_close_before_start_is_refused(self):
        contract = self._create_contract()
        contract.action_start()
        with self.assertRaisesRegex(
            UserError, "cannot be closed on .* before its start"
        ):
            contract._close(self.close_reason.id, "2026-12-31")

    def test_cancel_never_invoiced_then_reset_to_draft(self):
        contract = self._create_contract()
        contract.action_start()
        self._flush_tracking()
        contract.action_cancel()
        self.assertEqual(contract.state, "cancelled")
        self._flush_tracking()
        contract.action_draft()
        self.assertEqual(contract.state, "draft")
        self.assertEqual(self._tracked_states(contract)[:2], ["Draft", "Cancelled"])

    def test_cancel_invoiced_is_refused(self):
        contract = self._create_contract()
        contract.action_start()
        invoice = self.init_invoice("out_invoice", amounts=[100.0], post=True)
        invoice.subscription_contract_id = contract
        with self.assertRaisesRegex(
            UserError, "already been invoiced .* Close it instead"
        ):
            contract.action_cancel()
        # Once the invoice itself is cancelled, the contract can be cancelled.
        invoice.button_draft()
        invoice.button_cancel()
        contract.action_cancel()
        self.assertEqual(contract.state, "cancelled")

    def test_reset_to_draft_only_from_cancelled(self):
        contract = self._create_contract()
        contract.action_start()
        with self.assertRaisesRegex(UserError, "only reset to draft a contract"):
            contract.action_draft()

    def test_delete_only_draft_or_cancelled(self):
        contract = self._create_contract()
        contract.action_start()
        with self.assertRaisesRegex(UserError, "cannot be deleted. Close it instead"):
            contract.unlink()
        draft = self._create_contract(plan=self.plan_yearly)
        draft.unlink()
        self.assertFalse(draft.exists())
