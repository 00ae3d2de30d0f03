from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    # === BUSINESS METHODS === #

    def _invoice_paid_hook(self):
        """Paying brings the service back: when a customer suspended for
        non-payment has nothing past due any more, its contracts resume."""
        res = super()._invoice_paid_hook()
        invoices = self.filtered(lambda m: m.move_type == "out_invoice")
        if invoices:
            self.env["subscription.contract"]._resume_paid_customers(
                invoices.commercial_partner_id, invoices._get_payment_days()
            )
        return res

    def _get_payment_days(self):
        """{commercial partner id: the latest day on which these invoices were
        paid} (the payment's date, not the day it was matched)."""
        days = {}
        for move in self:
            partials = move.line_ids.filtered(
                lambda line: line.account_type == "asset_receivable"
            ).matched_credit_ids
            day = max(partials.mapped("max_date"), default=False)
            partner = move.commercial_partner_id.id
            if day and (partner not in days or days[partner] < day):
                days[partner] = day
        return days
