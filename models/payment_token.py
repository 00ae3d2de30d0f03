from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import format_date


class PaymentToken(models.Model):
    """The expiry of a saved card: shown to the customer, checked before a charge."""

    _inherit = "payment.token"

    card_expiry = fields.Date(
        help="Last day of the month the card expires (the card's MM/YY). Empty "
        "when unknown: the card is then charged without an expiry check.",
    )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._normalize_card_expiry(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._normalize_card_expiry(vals)
        return super().write(vals)

    @api.model
    def _normalize_card_expiry(self, vals):
        """A card expires at the end of its month, whatever day was typed."""
        if vals.get("card_expiry"):
            vals["card_expiry"] = fields.Date.to_date(vals["card_expiry"]) + (
                relativedelta(day=31)
            )

    # === BUSINESS METHODS === #

    def _is_card_expired(self, date=None):
        """Whether the card expired before ``date`` (today by default)."""
        self.ensure_one()
        date = date or fields.Date.context_today(self)
        return bool(self.card_expiry) and self.card_expiry < date

    def _get_card_expiry_label(self):
        """ "08/2027": the expiry as printed on the card, empty when unknown."""
        self.ensure_one()
        if not self.card_expiry:
            return ""
        return format_date(self.env, self.card_expiry, date_format="MM/yyyy")

    def _get_card_expired_label(self):
        """ "Expired 08/2026": the badge of a card that expired."""
        self.ensure_one()
        return self.env._("Expired %(expiry)s", expiry=self._get_card_expiry_label())
