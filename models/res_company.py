from datetime import datetime

import pytz

from odoo import models


class ResCompany(models.Model):
    _inherit = "res.company"

    def _subscription_today(self):
        """Today's date in the company's time zone (its address's), so that
        contracts are billed, reminded and renewed on the company's calendar."""
        self.ensure_one()
        tz = self.partner_id.tz or "UTC"
        return datetime.now(pytz.timezone(tz)).date()
