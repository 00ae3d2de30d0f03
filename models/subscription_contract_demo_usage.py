import calendar

from odoo import api, fields, models

# Copies made each calendar month by the demo copier, from its first month on.
DEMO_MONTHLY_COPIES = [1850, 2350, 3600, 2900, 1200, 950, 4100, 2600, 3300, 1700]


class SubscriptionContract(models.Model):
    _inherit = "subscription.contract"

    @api.model
    def _demo_copier_usage(self, contract_id):
        """Demo data only: a year of daily copy counts of the demo copier
        (sent through the batch API as its meter would), then the billing of
        each past day, as the nightly run did."""
        contract = self.browse(contract_id).exists()
        line = contract.line_ids.filtered(lambda ln: ln.billing_type == "metered")
        if not line:
            return False
        start = contract.date_start
        today = fields.Date.context_today(self)
        rows = []
        day = start
        while day < today:
            index = (day.year - start.year) * 12 + day.month - start.month
            total = DEMO_MONTHLY_COPIES[index % len(DEMO_MONTHLY_COPIES)]
            month_days = calendar.monthrange(day.year, day.month)[1]
            quantity = total // month_days
            if day.day == month_days:
                quantity += total % month_days
            rows.append(
                {
                    "contract_line_id": line.id,
                    "date": f"{day} 09:00:00",
                    "quantity": quantity,
                    "idempotency_key": f"copier-meter-{day}",
                    "description": "Daily meter reading",
                }
            )
            day = fields.Date.add(day, days=1)
        self.env["subscription.usage"].record_usage(rows)
        day = start
        while day <= today:
            contract._generate_invoices(today=day)
            day = fields.Date.add(day, days=1)
        return True
