from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    subscription_reminder_policy_id = fields.Many2one(
        related="company_id.subscription_reminder_policy_id", readonly=False
    )
    subscription_reminder_all_invoices = fields.Boolean(
        related="company_id.subscription_reminder_all_invoices", readonly=False
    )
    sepa_creditor_identifier = fields.Char(
        related="company_id.sepa_creditor_identifier", readonly=False
    )
    sepa_journal_id = fields.Many2one(
        related="company_id.sepa_journal_id", readonly=False
    )
    sepa_prenotification_days = fields.Integer(
        related="company_id.sepa_prenotification_days", readonly=False
    )
    sepa_pain_version = fields.Selection(
        related="company_id.sepa_pain_version", readonly=False
    )
    card_retry_days = fields.Char(related="company_id.card_retry_days", readonly=False)
