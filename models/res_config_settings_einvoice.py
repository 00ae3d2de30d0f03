from odoo import api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    subscription_einvoice_issues = fields.Text(
        string="E-invoice Issues",
        compute="_compute_subscription_einvoice_issues",
        help="What in the company's data stops its e-invoices: the invoices are "
        "then emailed as PDF only.",
    )

    subscription_einvoice_process = fields.Selection(
        related="company_id.subscription_einvoice_process", readonly=False
    )
    subscription_penalty_points = fields.Float(
        related="company_id.subscription_penalty_points", readonly=False
    )
    subscription_early_discount = fields.Char(
        related="company_id.subscription_early_discount", readonly=False
    )
    subscription_vat_on_debits = fields.Boolean(
        related="company_id.subscription_vat_on_debits", readonly=False
    )

    @api.depends("company_id")
    def _compute_subscription_einvoice_issues(self):
        for settings in self:
            issues = settings.company_id._subscription_get_einvoice_issues()
            settings.subscription_einvoice_issues = "\n".join(
                f"- {issue}" for issue in issues
            )
