from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, format_date

from ..models.reporting.subscription_revenue import (
    earned_through_sql,
    posted_period_lines_sql,
)


class SubscriptionRevenueCutoff(models.TransientModel):
    """Cut-off at a closing date: the revenue of the subscription invoices
    posted by that date for days after it is deferred (French 'produits
    constatés d'avance', account 487): one entry on the closing date moving it
    from each income account to the deferred revenue account, reversed the
    next day."""

    _name = "subscription.revenue.cutoff"
    _description = "Subscription Revenue Cut-off"
    _check_company_auto = True

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Date(
        string="Closing Date",
        required=True,
        default=lambda self: self._default_date(),
        help="Last day of the closed period: revenue billed for the days after "
        "it is deferred on this day and the entry is reversed the day after.",
    )
    journal_id = fields.Many2one(
        "account.journal",
        required=True,
        check_company=True,
        domain="[('type', '=', 'general')]",
        default=lambda self: self._default_journal_id(),
    )
    deferred_account_id = fields.Many2one(
        "account.account",
        string="Deferred Revenue Account",
        required=True,
        check_company=True,
        default=lambda self: self._default_deferred_account_id(),
        help="Produits constatés d'avance (487 in the French chart of accounts).",
    )
    line_ids = fields.One2many(
        "subscription.revenue.cutoff.line",
        "cutoff_id",
        compute="_compute_line_ids",
        readonly=True,
    )
    amount_total = fields.Monetary(
        string="Deferred Revenue", compute="_compute_line_ids"
    )

    # === DEFAULT METHODS === #

    def _default_date(self):
        today = fields.Date.context_today(self)
        return today.replace(day=1) - timedelta(days=1)

    def _default_journal_id(self):
        return self.env["account.journal"].search(
            [
                *self.env["account.journal"]._check_company_domain(self.env.company),
                ("type", "=", "general"),
            ],
            limit=1,
        )

    def _default_deferred_account_id(self):
        return self.env["account.account"].search(
            [
                *self.env["account.account"]._check_company_domain(self.env.company),
                ("code", "=like", "487%"),
            ],
            limit=1,
        )

    # === COMPUTE METHODS === #

    @api.depends("date", "company_id")
    def _compute_line_ids(self):
        for wizard in self:
            amounts = wizard._get_deferred_amounts() if wizard.date else {}
            wizard.line_ids = [fields.Command.clear()] + [
                fields.Command.create({"account_id": account_id, "amount": amount})
                for account_id, amount in amounts.items()
            ]
            wizard.amount_total = sum(amounts.values())

    # === BUSINESS METHODS === #

    def _get_deferred_amounts(self):
        """{income account id: revenue of the invoices posted by the closing
        date for the days after it}, from the periods their lines carry."""
        self.ensure_one()
        self.env["account.move.line"].flush_model()
        self.env["account.move"].flush_model()
        day = SQL("%s::date", self.date)
        self.env.cr.execute(
            SQL(
                """
                WITH l AS (%s)
                SELECT account_id, SUM(amount - %s)
                  FROM l
                 WHERE invoice_date <= %s AND date_to > %s
                 GROUP BY account_id
                HAVING SUM(amount - %s) != 0
                 ORDER BY account_id
                """,
                posted_period_lines_sql(self.company_id.ids),
                earned_through_sql(day),
                self.date,
                self.date,
                earned_through_sql(day),
            )
        )
        currency = self.company_id.currency_id
        return {
            account_id: currency.round(float(amount))
            for account_id, amount in self.env.cr.fetchall()
        }

    def _prepare_move_vals(self, amounts):
        self.ensure_one()
        label = _(
            "Deferred subscription revenue at %(date)s",
            date=format_date(self.env, self.date),
        )
        lines = [
            fields.Command.create(
                {
                    "name": label,
                    "account_id": account_id,
                    "debit": amount if amount > 0 else 0.0,
                    "credit": -amount if amount < 0 else 0.0,
                }
            )
            for account_id, amount in amounts.items()
        ]
        total = sum(amounts.values())
        lines.append(
            fields.Command.create(
                {
                    "name": label,
                    "account_id": self.deferred_account_id.id,
                    "debit": -total if total < 0 else 0.0,
                    "credit": total if total > 0 else 0.0,
                }
            )
        )
        return {
            "move_type": "entry",
            "journal_id": self.journal_id.id,
            "company_id": self.company_id.id,
            "date": self.date,
            "ref": label,
            "line_ids": lines,
        }

    def action_post(self):
        """Post the cut-off entry on the closing date and its reversal the
        day after; open both."""
        self.ensure_one()
        amounts = self._get_deferred_amounts()
        if not amounts:
            raise UserError(
                _(
                    "No subscription revenue posted by %(date)s is billed for "
                    "days after it: there is nothing to defer.",
                    date=format_date(self.env, self.date),
                )
            )
        move = self.env["account.move"].create(self._prepare_move_vals(amounts))
        move.action_post()
        reversal = move._reverse_moves(
            [
                {
                    "date": self.date + timedelta(days=1),
                    "ref": _("Reversal of: %(ref)s", ref=move.ref),
                }
            ]
        )
        reversal.action_post()
        return {
            "type": "ir.actions.act_window",
            "name": _("Cut-off entries"),
            "res_model": "account.move",
            "views": [(False, "list"), (False, "form")],
            "domain": [("id", "in", (move | reversal).ids)],
        }


class SubscriptionRevenueCutoffLine(models.TransientModel):
    _name = "subscription.revenue.cutoff.line"
    _description = "Subscription Revenue Cut-off Line"

    cutoff_id = fields.Many2one(
        "subscription.revenue.cutoff",
        string="Cut-off",
        required=True,
        ondelete="cascade",
    )
    currency_id = fields.Many2one(related="cutoff_id.currency_id")
    account_id = fields.Many2one("account.account", string="Income Account")
    amount = fields.Monetary(string="Deferred Revenue")
