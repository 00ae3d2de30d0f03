from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    # === BUSINESS METHODS === #

    def _invoice_paid_hook(self):
        """Paying brings the service back: when a customer suspended for
        non-payment has nothing past due any more, its contracts resume."""
        res = super()._invoice_paid_hook()
        customers = self.filtered(
            lambda m: m.move_type == "out_invoice"
        ).commercial_partner_id
        if customers:
            self.env["subscription.contract"]._resume_paid_customers(customers)
        return res
