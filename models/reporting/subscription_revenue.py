from odoo import fields, models
from odoo.tools import SQL


def posted_period_lines_sql(company_ids=None):
    """Posted customer invoice and credit note lines that carry a billed
    period, with their revenue (credit positive) in company currency."""
    return SQL(
        """
        SELECT aml.id AS line_id, aml.move_id, aml.account_id, aml.company_id,
               m.commercial_partner_id AS partner_id,
               m.subscription_contract_id AS contract_id,
               m.invoice_date, aml.subscription_date_from AS date_from,
               aml.subscription_date_to AS date_to,
               (aml.subscription_date_to - aml.subscription_date_from + 1)
                   AS total_days,
               -aml.balance AS amount
          FROM account_move_line aml
          JOIN account_move m ON m.id = aml.move_id
         WHERE m.state = 'posted'
           AND m.move_type IN ('out_invoice', 'out_refund')
           AND aml.display_type = 'product'
           AND aml.subscription_date_from IS NOT NULL
           AND aml.subscription_date_to >= aml.subscription_date_from
           %s
        """,
        SQL("AND aml.company_id IN %s", tuple(company_ids)) if company_ids else SQL(),
    )


def earned_through_sql(day_sql):
    """Revenue of a period line earned up to and including ``day_sql``, by the
    day, rounded once so that the months of a period add up to its amount."""
    return SQL(
        """ROUND((amount * GREATEST(0, LEAST(date_to, %(day)s) - date_from + 1)
                  / total_days)::numeric, 2)""",
        day=day_sql,
    )


class SubscriptionRevenue(models.Model):
    """Billed versus earned revenue per month: each posted subscription
    invoice line counts as billed in its invoice's month and as earned, by
    the day, over the months of the period it bills (the period the invoice
    line carries, Billed From / Billed To)."""

    _name = "subscription.revenue"
    _description = "Subscription Billed and Earned Revenue"
    _inherit = "subscription.sql.view"
    _auto = False
    _order = "date desc, move_id"
    _rec_name = "move_id"

    date = fields.Date(string="Month", readonly=True)
    move_id = fields.Many2one("account.move", string="Invoice", readonly=True)
    move_line_id = fields.Many2one(
        "account.move.line", string="Invoice Line", readonly=True
    )
    account_id = fields.Many2one("account.account", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    contract_id = fields.Many2one("subscription.contract", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    date_from = fields.Date(string="Billed From", readonly=True)
    date_to = fields.Date(string="Billed To", readonly=True)
    billed = fields.Monetary(readonly=True)
    earned = fields.Monetary(readonly=True)
    deferred = fields.Monetary(
        string="Billed - Earned",
        readonly=True,
        help="Billed in the month minus earned in the month: its running sum is "
        "the revenue billed in advance (deferred).",
    )

    def _get_query(self):
        month_end = SQL("(mo + interval '1 month - 1 day')::date")
        month_before = SQL("(mo - interval '1 day')::date")
        return SQL(
            """
            WITH l AS (%(lines)s), rows AS (
                SELECT l.*, date_trunc('month', l.invoice_date)::date AS month,
                       l.amount AS billed, 0 AS earned
                  FROM l
                UNION ALL
                SELECT l.*, mo::date AS month, 0 AS billed,
                       %(through_end)s - %(through_before)s AS earned
                  FROM l, generate_series(date_trunc('month', l.date_from),
                                          l.date_to, interval '1 month') AS mo
            )
            SELECT ROW_NUMBER() OVER (ORDER BY r.month, r.line_id) AS id,
                   r.month AS date, r.move_id, r.line_id AS move_line_id,
                   r.account_id, r.partner_id, r.contract_id, r.company_id,
                   c.currency_id, r.date_from, r.date_to,
                   SUM(r.billed) AS billed, SUM(r.earned) AS earned,
                   SUM(r.billed) - SUM(r.earned) AS deferred
              FROM rows r
              JOIN res_company c ON c.id = r.company_id
             GROUP BY r.month, r.move_id, r.line_id, r.account_id, r.partner_id,
                      r.contract_id, r.company_id, c.currency_id, r.date_from,
                      r.date_to
            """,
            lines=posted_period_lines_sql(),
            through_end=earned_through_sql(month_end),
            through_before=earned_through_sql(month_before),
        )
