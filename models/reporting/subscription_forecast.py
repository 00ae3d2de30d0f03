from odoo import fields, models
from odoo.tools import SQL


class SubscriptionForecast(models.Model):
    """What the running contracts will bill: one row per contract and period
    still to invoice over the next 12 months (and a little more), from the
    contracts' billing rules, their lines in force on each period's first day
    (amendments already dated included), their commitment end when they do
    not renew tacitly, their close date, and the price increase of each
    renewal. Computed by a query, never stored per period."""

    _name = "subscription.forecast"
    _description = "Subscription Billing Forecast"
    _inherit = "subscription.sql.view"
    _auto = False
    _order = "invoice_date, contract_id"
    _rec_name = "contract_id"

    date = fields.Date(string="Month", readonly=True)
    invoice_date = fields.Date(readonly=True)
    period_start = fields.Date(readonly=True)
    period_end = fields.Date(readonly=True)
    contract_id = fields.Many2one("subscription.contract", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    plan_id = fields.Many2one("subscription.plan", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    renewals = fields.Integer(
        string="Renewals Before",
        readonly=True,
        aggregator="max",
        help="Tacit renewals between today's commitment end and the period: "
        "each raises the prices by the contract's renewal increase.",
    )
    amount = fields.Monetary(string="Untaxed Amount", readonly=True)

    def _get_query(self):
        # Each step carries the contract's columns along: joining a CTE back
        # to its periods makes PostgreSQL loop over it for every contract.
        return SQL(
            """
            WITH c AS (
                SELECT c.id AS contract_id, c.date_start, c.date_end, c.close_date,
                       c.next_period_start, c.billing_mode, c.billing_unit,
                       c.billing_interval, c.renewal_price_increase,
                       c.commercial_partner_id, c.plan_id, c.user_id,
                       c.company_id, c.currency_id,
                       CASE c.billing_unit
                           WHEN 'day' THEN interval '1 day' * c.billing_interval
                           WHEN 'week' THEN interval '7 days' * c.billing_interval
                           WHEN 'month' THEN interval '1 month' * c.billing_interval
                           ELSE interval '1 year' * c.billing_interval
                       END AS step,
                       c.auto_renew AND NOT COALESCE(c.renewal_refused, FALSE)
                           AS renews,
                       CASE WHEN COALESCE(c.renewal_length, 0) > 0
                            THEN c.renewal_length
                                 * CASE c.renewal_unit WHEN 'year' THEN 12 ELSE 1 END
                            ELSE c.commitment_length
                                 * CASE c.commitment_unit WHEN 'year' THEN 12 ELSE 1 END
                       END AS term_months,
                       -- months from the next period to 13 months from today
                       (EXTRACT(YEAR FROM age(
                            GREATEST(c.next_period_start, CURRENT_DATE)
                            + interval '13 months', c.next_period_start)) * 12
                        + EXTRACT(MONTH FROM age(
                            GREATEST(c.next_period_start, CURRENT_DATE)
                            + interval '13 months', c.next_period_start)) + 1
                       ) AS horizon
                  FROM subscription_contract c
                 WHERE c.state = 'active'
                   AND c.next_period_start IS NOT NULL
                   AND c.billing_interval >= 1
            ), periods AS (
                SELECT c.*,
                       (c.next_period_start + k * c.step)::date AS period_start,
                       (c.next_period_start + (k + 1) * c.step
                        - interval '1 day')::date AS period_end
                  FROM c
                 CROSS JOIN LATERAL generate_series(
                       0, CEIL(c.horizon * CASE c.billing_unit
                           WHEN 'day' THEN 31.0 WHEN 'week' THEN 31.0 / 7
                           WHEN 'month' THEN 1.0 ELSE 1.0 / 12 END
                           / c.billing_interval)::int) AS k
            ), billed AS (
                SELECT p.*,
                       CASE WHEN p.renews AND p.date_end IS NOT NULL
                                 AND p.period_start > p.date_end
                                 AND p.term_months > 0
                            THEN 1 + FLOOR((EXTRACT(YEAR FROM age(
                                         p.period_start, p.date_end + 1)) * 12
                                     + EXTRACT(MONTH FROM age(
                                         p.period_start, p.date_end + 1)))
                                     / p.term_months)::int
                            ELSE 0
                       END AS renewals,
                       CASE p.billing_mode
                           WHEN 'arrears' THEN p.period_end ELSE p.period_start
                       END AS invoice_date
                  FROM periods p
                 WHERE (p.close_date IS NULL OR p.period_start <= p.close_date)
                   AND (p.date_end IS NULL OR p.renews
                        OR p.period_start <= p.date_end)
            )
            SELECT ROW_NUMBER() OVER (ORDER BY b.period_start, b.contract_id) AS id,
                   date_trunc('month', b.invoice_date)::date AS date,
                   b.invoice_date, b.period_start, b.period_end, b.contract_id,
                   b.commercial_partner_id AS partner_id, b.plan_id, b.user_id,
                   b.company_id, b.currency_id, b.renewals,
                   SUM(ROUND((l.price_subtotal * POWER(
                       1 + COALESCE(b.renewal_price_increase, 0) / 100.0,
                       b.renewals))::numeric, 2)) AS amount
              FROM billed b
              JOIN subscription_contract_line l ON l.contract_id = b.contract_id
             WHERE COALESCE(l.date_start, b.date_start) <= b.period_start
               AND (l.date_end IS NULL OR l.date_end >= b.period_start)
             GROUP BY b.invoice_date, b.period_start, b.period_end, b.contract_id,
                      b.renewals, b.commercial_partner_id, b.plan_id, b.user_id,
                      b.company_id, b.currency_id
            """
        )
