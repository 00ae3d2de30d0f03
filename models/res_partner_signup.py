from odoo import models


class ResPartner(models.Model):
    _inherit = "res.partner"

    def signup_prepare(self, signup_type="signup"):
        # Odoo prepares the portal signup of a customer each time an email
        # carries its access link, writing the same value again: a row lock on
        # the customer for nothing, which made the invoice sending deadlock with
        # the customer's or the accountant's own requests. Write only a change.
        changed = self.filtered(lambda p: p.sudo().signup_type != signup_type)
        if changed:
            return super(ResPartner, changed).signup_prepare(signup_type=signup_type)
        return True
