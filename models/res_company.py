from datetime import datetime

import pytz
from stdnum import iban as stdnum_iban
from stdnum.eu import at_02

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.osv import expression

from ..lib import card


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

    sepa_creditor_identifier = fields.Char(
        string="SEPA Creditor Identifier",
        help="Identifier given by your bank (in France by the Banque de France) to "
        "collect by direct debit, e.g. FR72ZZZ123456.",
    )
    sepa_journal_id = fields.Many2one(
        "account.journal",
        string="Direct Debit Bank Journal",
        domain="[('type', '=', 'bank'), ('company_id', '=', id)]",
        help="The bank account the direct debits are collected on.",
    )
    sepa_prenotification_days = fields.Integer(
        string="Pre-notification (days)",
        default=14,
        help="The debtor is told of each direct debit at least this many days "
        "before it (14 by the SEPA rulebook unless agreed otherwise, 1 minimum).",
    )
    sepa_pain_version = fields.Selection(
        [
            ("pain.008.001.02", "pain.008.001.02 (2009)"),
            ("pain.008.001.08", "pain.008.001.08 (EPC rulebook 2023)"),
        ],
        string="Direct Debit File Format",
        default="pain.008.001.08",
        required=True,
    )

    card_retry_days = fields.Char(
        string="Card Retry Plan (days)",
        default="1,3,7",
        required=True,
        help="A declined card charge is retried this many days after each "
        "previous attempt, comma separated; once the plan is exhausted the "
        "invoice follows the payment reminders.",
    )

    # === CONSTRAINT METHODS === #

    @api.constrains("card_retry_days")
    def _check_card_retry_days(self):
        for company in self:
            try:
                card.parse_retry_plan(company.card_retry_days)
            except ValueError as error:
                raise ValidationError(
                    _(
                        "The card retry plan %(plan)s is not valid: give whole "
                        "numbers of days above 0, comma separated, e.g. 1,3,7.",
                        plan=company.card_retry_days,
                    )
                ) from error

    @api.constrains("sepa_journal_id")
    def _check_sepa_journal_iban(self):
        for company in self.filtered("sepa_journal_id"):
            number = company.sepa_journal_id.bank_account_id.acc_number or ""
            if not stdnum_iban.is_valid(number):
                raise ValidationError(
                    _(
                        "The bank account of journal %(journal)s (%(number)s) is not "
                        "a valid IBAN: direct debits cannot be collected on it. Set "
                        "the IBAN of the journal's bank account.",
                        journal=company.sepa_journal_id.name,
                        number=number or "-",
                    )
                )

    @api.constrains("sepa_creditor_identifier")
    def _check_sepa_creditor_identifier(self):
        for company in self.filtered("sepa_creditor_identifier"):
            if not at_02.is_valid(company.sepa_creditor_identifier):
                raise ValidationError(
                    _(
                        "%(identifier)s is not a valid SEPA creditor identifier: "
                        "check it on your bank's letter (e.g. FR72ZZZ123456).",
                        identifier=company.sepa_creditor_identifier,
                    )
                )

    @api.constrains("sepa_prenotification_days")
    def _check_sepa_prenotification_days(self):
        for company in self:
            if company.sepa_prenotification_days < 1:
                raise ValidationError(
                    _(
                        "The direct debit pre-notification must be at least 1 day "
                        "before the collection."
                    )
                )

    # === BUSINESS METHODS === #

    def _get_card_retry_plan(self):
        self.ensure_one()
        return card.parse_retry_plan(self.card_retry_days)

    def _subscription_today(self):
        """Today's date in the company's time zone (its address's), so that
        contracts are billed, reminded and renewed on the company's calendar."""
        self.ensure_one()
        tz = self.partner_id.tz or "UTC"
        return datetime.now(pytz.timezone(tz)).date()

    @api.model
    def _subscription_due_domain(self, date_field, operator="<=", skip_fields=()):
        """Records due today in their company's time zone: ``date_field``
        ``operator`` the company's today, and each of ``skip_fields`` empty or
        before today (an error flagged today, reminders paused until a date)."""
        domains = []
        for company in self.sudo().search([]):
            today = company._subscription_today()
            domain = [("company_id", "=", company.id), (date_field, operator, today)]
            for fname in skip_fields:
                domain += ["|", (fname, "=", False), (fname, "<", today)]
            domains.append(domain)
        return expression.OR(domains)
