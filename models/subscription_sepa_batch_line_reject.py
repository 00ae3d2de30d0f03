from odoo import _, models
from odoo.tools import format_date

from .subscription_sepa_batch import REJECTION_CODES, REJECTION_EFFECTS


class SubscriptionSepaBatchLine(models.Model):
    """A debit the bank rejected (pain.002, before settlement) or returned
    (camt.054, after it): its payment is reversed, never deleted, and the
    mandate becomes what the reason code says (``REJECTION_EFFECTS``)."""

    _inherit = "subscription.sepa.batch.line"

    # === BUSINESS METHODS === #

    def _reject(self, code, note=False, day=None):
        """The bank returned these debits on ``day`` (default: today): reverse
        their payments on that day, reopen the invoices (back to reminders) and
        apply the effect of ``code`` on their mandates."""
        labels = dict(REJECTION_CODES)
        effect = REJECTION_EFFECTS.get(code, "keep")
        reason = f"{labels[code]} ({note})" if note else labels[code]
        for line in self:
            line_day = day or line.company_id._subscription_today()
            line._reverse_payment(line_day, reason)
            line.write({"state": "rejected", "rejection_code": code})
            line.move_id.write(
                {"payment_collection_pending": False, "sepa_rejected": True}
            )
            message = _(
                "Direct debit rejected by the bank: %(reason)s. The invoice is open "
                "again and follows the payment reminders.",
                reason=reason,
            )
            line.move_id.message_post(body=message, subtype_xmlid="mail.mt_note")
            if effect == "keep":
                line._schedule_rejected_activity(message)
        for mandate, lines in self.grouped("mandate_id").items():
            if effect == "account":
                mandate._suspend(reason, lines)
            elif effect in ("mandate", "deceased"):
                mandate._revoke_after_return(reason, lines, effect)
            elif mandate.state == "used" and not mandate.batch_line_ids.filtered(
                lambda debit: debit.state in ("to_collect", "collected")
            ):
                # A one-off mandate whose one debit never happened is unused.
                mandate.state = "active"
                mandate._message_log(
                    body=_(
                        "One-off mandate active again: its debit was returned "
                        "(%(reason)s).",
                        reason=reason,
                    )
                )
        return True

    def _schedule_rejected_activity(self, message):
        """The salesperson of the contract follows the rejected debit up. The
        accountant recording it may not see that contract: the activity follows
        from the bank's return, hence sudo."""
        self.ensure_one()
        contract = self.move_id.sudo().subscription_contract_id
        if contract:
            contract.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=_("Direct debit rejected"),
                note=message,
                user_id=(contract.user_id or self.env.user).id,
            )

    def _reverse_payment(self, day, reason):
        """Undo the payment of a collected debit by a reversal entry dated
        ``day`` (the payment and its entry stay, as the sequence requires): the
        invoice is open again. A payment already matched with the bank statement
        keeps that match; its reversal waits for the bank's return line."""
        self.ensure_one()
        payment = self.payment_id
        if not payment or payment.state in ("canceled", "rejected"):
            return False
        move = payment.move_id
        if move and move.state == "posted":
            receivable = move.line_ids.filtered(
                lambda aml: (
                    aml.account_id.account_type
                    in ("asset_receivable", "liability_payable")
                )
            )
            receivable.remove_move_reconcile()
            reversal = move._reverse_moves(
                [
                    {
                        "date": max(day, move.date),
                        "ref": _(
                            "Direct debit rejected: %(payment)s (%(reason)s)",
                            payment=move.name,
                            reason=reason,
                        ),
                    }
                ]
            )
            reversal.action_post()
            for account in (move.line_ids.account_id).filtered("reconcile"):
                original = move.line_ids.filtered(
                    lambda aml, acc=account: (
                        aml.account_id == acc and not aml.reconciled
                    )
                )
                if original:
                    (
                        original
                        | reversal.line_ids.filtered(
                            lambda aml, acc=account: aml.account_id == acc
                        )
                    ).reconcile()
        payment.action_reject()
        payment.message_post(
            body=_(
                "Direct debit rejected by the bank: %(reason)s. Reversed on %(day)s.",
                reason=reason,
                day=format_date(self.env, day),
            ),
            subtype_xmlid="mail.mt_note",
        )
        return True
