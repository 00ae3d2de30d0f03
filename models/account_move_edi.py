from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _prepare_edi_vals_to_export(self):
        """The billed period of a subscription invoice goes into its e-invoice:
        the Factur-X (CII) exporter of account_edi_ubl_cii prints
        ``billing_start``/``billing_end`` as BillingSpecifiedPeriod (BG-14).
        This hook of ``account`` needs no dependency on account_edi_ubl_cii."""
        values = super()._prepare_edi_vals_to_export()
        if self.subscription_period_start and self.subscription_period_end:
            values["billing_start"] = self.subscription_period_start
            values["billing_end"] = self.subscription_period_end
        return values
