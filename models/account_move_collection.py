from odoo import _, models
from odoo.exceptions import UserError
from odoo.tools import format_date


class AccountMove(models.Model):
    _inherit = "account.move"

    # === ACTION METHODS === #

    def action_send_next_reminder(self):
        """Send now the next step of each invoice, whatever its date. An invoice
        that may not be reminded is skipped with its own reason and never stops
        the others; when nothing can be sent, the reasons are the error."""
        sent, skipped = self._send_next_reminders_now()
        if not sent:
            raise UserError("\n".join(skipped.values()))
        message = _(
            "Reminder sent for %(invoices)s.",
            invoices=", ".join(sent.mapped("name")),
        )
        if skipped:
            message += "\n" + _("Skipped:") + "\n" + "\n".join(skipped.values())
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Payment reminders"),
                "message": message,
                "type": "warning" if skipped else "success",
                "sticky": bool(skipped),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    # === BUSINESS METHODS: COLLECTIONS AND REMINDERS === #

    def _send_next_reminders_now(self):
        """Return (the invoices reminded, {invoice: why it was skipped})."""
        sent = self.browse()
        skipped = {}
        for move in self:
            reason = move._get_reminder_block_reason()
            if reason:
                skipped[move] = reason
                continue
            move._send_reminder_step(
                move.partner_id.commercial_partner_id,
                move.reminder_next_step_id,
                move.company_id._subscription_today(),
            )
            sent |= move
        return sent, skipped

    def _get_reminder_exclusion_rules(self):
        # No reminder while the amount is being collected (direct debit, card).
        return [
            *super()._get_reminder_exclusion_rules(),
            (
                [("payment_collection_pending", "=", False)],
                self._get_collection_block_reason,
            ),
        ]

    def _get_reminder_block_reason(self):
        """Why the next reminder of this invoice may not be sent now, or False:
        no step left (with why), or the first exclusion rule it fails."""
        self.ensure_one()
        if not self.reminder_next_step_id:
            return self._get_no_step_reason()
        for domain, reason in self._get_reminder_exclusion_rules():
            if not self.filtered_domain(domain):
                return reason()
        excluded = self.filtered_domain(self._get_reminder_exclusion_domain())
        if not excluded:
            # An extension excluded it without a rule of its own.
            return _(
                "%(invoice)s is excluded from payment reminders.",
                invoice=self.display_name,
            )
        customer = self.commercial_partner_id
        paused = customer.reminder_paused_until
        if paused and paused >= self.company_id._subscription_today():
            return _(
                "%(invoice)s: reminders to %(customer)s are paused until "
                "%(date)s (%(reason)s).",
                invoice=self.display_name,
                customer=customer.display_name,
                date=format_date(self.env, paused),
                reason=customer.reminder_pause_reason or _("no reason given"),
            )
        return False

    def _get_no_step_reason(self):
        self.ensure_one()
        if self.move_type != "out_invoice":
            reason = _("it is not a customer invoice")
        elif self.state != "posted":
            reason = _("it is not posted")
        elif self.payment_state not in ("not_paid", "partial"):
            reason = _("it is paid")
        elif not self.reminder_policy_id:
            reason = _("it has no reminder policy")
        elif not self.invoice_date_due:
            reason = _("it has no due date")
        else:
            reason = _("every step of its policy was sent")
        return _(
            "%(invoice)s has no reminder left to send: %(reason)s.",
            invoice=self.display_name,
            reason=reason,
        )

    def _get_collection_block_reason(self):
        """The amount is being collected: by which direct debit or card."""
        self.ensure_one()
        batch_line = self.env["subscription.sepa.batch.line"].search(
            [("move_id", "=", self.id), ("state", "=", "to_collect")], limit=1
        )
        if batch_line:
            return _(
                "%(invoice)s is being collected by direct debit (collection "
                "%(batch)s): no reminder until the bank rejects it.",
                invoice=self.display_name,
                batch=batch_line.batch_id.name,
            )
        if self.card_next_try_date:
            return _(
                "%(invoice)s is being charged on the customer's card (next try on "
                "%(date)s): no reminder until the charges fail.",
                invoice=self.display_name,
                date=format_date(self.env, self.card_next_try_date),
            )
        return _(
            "%(invoice)s is being paid by card: no reminder until the payment fails.",
            invoice=self.display_name,
        )
