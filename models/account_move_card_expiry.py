from odoo import _, models


class AccountMove(models.Model):
    _inherit = "account.move"

    # === BUSINESS METHODS: EXPIRED CARDS === #

    def _card_expired(self, token):
        """The saved card expired before the charge: it is not charged. The
        invoice leaves the card charges for the payment reminders (until the
        contract gets another card), with a note; the customer is emailed and
        the salesperson gets one activity per contract while it is open."""
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
        self._card_email_customer("subscription_billing.mail_template_card_expired")
        contract = self.subscription_contract_id
        summary = _("Card expired")
        if contract and self.search_count(
            [
                ("subscription_contract_id", "=", contract.id),
                ("activity_ids.summary", "=", summary),
            ],
            limit=1,
        ):
            return
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=message,
            user_id=(contract.user_id or self.invoice_user_id).id or self.env.uid,
        )
