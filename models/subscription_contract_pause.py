from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_date


class SubscriptionContractPause(models.Model):
    _name = "subscription.contract.pause"
    _description = "Subscription Contract Suspension"
    _order = "contract_id, date_from, id"

    contract_id = fields.Many2one(
        "subscription.contract",
        required=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(related="contract_id.company_id", store=True)
    date_from = fields.Date(string="Suspended From", required=True)
    date_to = fields.Date(
        string="Suspended Until",
        help="Last suspended day. Empty while the contract is still suspended.",
    )

    # === CONSTRAINT METHODS === #

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for pause in self:
            if pause.date_to and pause.date_to < pause.date_from:
                raise ValidationError(
                    _(
                        "Contract %(contract)s: a suspension cannot end (%(end)s) "
                        "before it starts (%(start)s).",
                        contract=pause.contract_id.name,
                        end=format_date(self.env, pause.date_to),
                        start=format_date(self.env, pause.date_from),
                    )
                )

    # === BUSINESS METHODS === #

    def _end(self, resume_date):
        """The contract resumes on ``resume_date``: the suspension ends the day
        before; a suspension resumed the day it started suspended nothing."""
        for pause in self:
            if resume_date <= pause.date_from:
                pause.unlink()
            else:
                pause.date_to = fields.Date.subtract(resume_date, days=1)
