from odoo import _, models


class AccountMove(models.Model):
    _inherit = "account.move"

    # === BUSINESS METHODS: EXPIRED CARDS === #

    def _card_expired(self, token):
        """The saved card expired before the charge: it is not charged. The
        invoice leaves the card charges for the payment reminders, with one
        note and one activity asking for a new card."""
        self.ensure_one()
        self.write({"card_next_try_date": False, "payment_collection_pending": False})
        message = _(
            "%(invoice)s was not charged: the card %(card)s expired in %(expiry)s. "
            "The invoice follows the payment reminders; ask the customer for a "
            "new card.",
            invoice=self.display_name,
            card=token.display_name,
            expiry=token._get_card_expiry_label(),
        )
        self._message_log(body=message)
        contract = self.subscription_contract_id
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=_("Card expired"),
            note=message,
            user_id=(contract.user_id or self.invoice_user_id).id or self.env.uid,
        )
