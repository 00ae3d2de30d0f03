from odoo import api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    subscription_einvoice_issues = fields.Text(
        string="E-invoice Issues",
        compute="_compute_subscription_einvoice_issues",
        help="What in the company's data stops its e-invoices: the invoices are "
        "then emailed as PDF only.",
    )

    @api.depends("company_id")
    def _compute_subscription_einvoice_issues(self):
        for settings in self:
            issues = settings.company_id._subscription_get_einvoice_issues()
            settings.subscription_einvoice_issues = "\n".join(
                f"- {issue}" for issue in issues
            )
