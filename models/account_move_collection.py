from odoo import _, models


class AccountMove(models.Model):
    _inherit = "account.move"

    # === BUSINESS METHODS: COLLECTIONS AND REMINDERS === #

    def _get_reminder_block_reason(self):
        """Why no reminder may be sent now for this invoice, or False. The same
        rule as the scheduled run (``_get_reminder_exclusion_domain``): an
        invoice being collected (direct debit, card) is not reminded."""
        self.ensure_one()
        if self.filtered_domain(self._get_reminder_exclusion_domain()):
            return False
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
        return _(
            "%(invoice)s is being collected (direct debit or card): no reminder "
            "until the collection fails.",
            invoice=self.display_name,
        )
