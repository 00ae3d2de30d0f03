from datetime import datetime

import pytz

from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    subscription_reminder_policy_id = fields.Many2one(
        "subscription.reminder.policy",
        string="Default Reminder Policy",
        help="Reminds the subscription invoices whose contract, customer and plan "
        "set no policy; and the other customer invoices too when the option "
        "below is set.",
    )
    subscription_reminder_all_invoices = fields.Boolean(
        string="Remind All Customer Invoices",
        help="Apply the default reminder policy to customer invoices that do not "
        "come from a subscription.",
    )

    # === BUSINESS METHODS === #

    def _subscription_today(self):
        """Today's date in the company's time zone (its address's), so that
        contracts are billed, reminded and renewed on the company's calendar."""
        self.ensure_one()
        tz = self.partner_id.tz or "UTC"
        return datetime.now(pytz.timezone(tz)).date()
