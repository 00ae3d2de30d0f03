from odoo import models


class SubscriptionContract(models.Model):
    _inherit = "subscription.contract"

    # === CRUD METHODS === #

    def write(self, vals):
        res = super().write(vals)
        if vals.get("payment_token_id"):
            self._card_rearm_open_invoices()
        return res

    # === BUSINESS METHODS === #

    def _card_rearm_open_invoices(self):
        """Another card pays these contracts: their open invoices that card
        charges had given up (card expired, declines exhausted) are charged to
        it on the next run, with a fresh count of attempts."""
        for contract in self.filtered(
            lambda c: (
                c.payment_method == "card"
                and c.payment_token_id
                and not c.payment_token_id._is_card_expired(
                    c.company_id._subscription_today()
                )
            )
        ):
            invoices = self.env["account.move"].search(
                [
                    ("subscription_contract_id", "=", contract.id),
                    ("move_type", "=", "out_invoice"),
                    ("state", "=", "posted"),
                    ("payment_state", "in", ("not_paid", "partial")),
                    ("card_next_try_date", "=", False),
                    # Not while a debit or a charge is under way, not those
                    # collected by direct debit.
                    ("payment_collection_pending", "=", False),
                    ("sepa_mandate_id", "=", False),
                ]
            )
            invoices.write(
                {
                    "card_next_try_date": contract.company_id._subscription_today(),
                    "payment_collection_pending": True,
                    "card_failed_attempts": 0,
                }
            )
