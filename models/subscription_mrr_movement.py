from odoo import fields, models
from odoo.tools import SQL


class SubscriptionMrrMovement(models.Model):
    """How each contract's MRR moved from one month end to the next: new,
    expansion, contraction, churn or reactivation, from the dated lines of the
    contracts."""

    _name = "subscription.mrr.movement"
    _description = "MRR Movement"
    _inherit = "subscription.sql.view"
    _auto = False
    _order = "date desc, contract_id"
    _rec_name = "contract_id"

    date = fields.Date(string="Month", readonly=True)
    contract_id = fields.Many2one("subscription.contract", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    commercial_partner_id = fields.Many2one(
        "res.partner", string="Customer Entity", readonly=True
    )
    plan_id = fields.Many2one("subscription.plan", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    movement = fields.Selection(
        [
            ("new", "New"),
            ("expansion", "Expansion"),
            ("contraction", "Contraction"),
            ("churn", "Churn"),
            ("reactivation", "Reactivation"),
        ],
        help="Reactivation: MRR again after none, on a contract that had some "
        "before, or on a new contract of a customer whose earlier contracts had "
        "all closed.",
        readonly=True,
    )
    mrr_before = fields.Monetary(string="MRR Before", readonly=True, aggregator=None)
    mrr_after = fields.Monetary(string="MRR After", readonly=True, aggregator=None)
    amount = fields.Monetary(
        string="MRR Change",
        readonly=True,
        help="MRR at the end of the month minus MRR at the end of the month before.",
    )

    def _get_query(self):
        # MRR of each contract at the end of the months where it may change
        # (its start, a line starting or ending, its close): the lines in
        # force that day, normalised to one month; 0 once closed. Between two
        # such months the MRR stays the same, so the month before each is the
        # previous one's.
        return SQL(
            """
            WITH bounds AS (
                SELECT c.id AS contract_id, c.date_start, c.close_date,
                       date_trunc('month', c.date_start)::date AS first_month,
                       CASE c.billing_unit
                           WHEN 'month' THEN 1.0 / c.billing_interval
                           WHEN 'year' THEN 1.0 / (12 * c.billing_interval)
                           WHEN 'week' THEN (365.25 / 12 / 7) / c.billing_interval
                           ELSE (365.25 / 12) / c.billing_interval
                       END AS factor
                  FROM subscription_contract c
                 WHERE c.state NOT IN ('draft', 'cancelled')
                   AND c.billing_interval >= 1
            ), events AS (
                SELECT contract_id, first_month AS month FROM bounds
                UNION
                SELECT contract_id, date_trunc('month', close_date + 1)::date
                  FROM bounds WHERE close_date IS NOT NULL
                UNION
                SELECT l.contract_id, date_trunc('month', l.date_start)::date
                  FROM subscription_contract_line l
                  JOIN bounds b ON b.contract_id = l.contract_id
                 WHERE l.date_start IS NOT NULL
                UNION
                SELECT l.contract_id, date_trunc('month', l.date_end + 1)::date
                  FROM subscription_contract_line l
                  JOIN bounds b ON b.contract_id = l.contract_id
                 WHERE l.date_end IS NOT NULL
            ), months AS (
                SELECT b.contract_id, b.factor,
                       (e.month + interval '1 month - 1 day')::date AS month_end
                  FROM events e
                  JOIN bounds b ON b.contract_id = e.contract_id
                 WHERE e.month >= b.first_month
            ), mrr AS (
                SELECT mo.contract_id, mo.month_end,
                       ROUND((mo.factor * COALESCE(SUM(l.price_subtotal)
                           FILTER (WHERE (c.close_date IS NULL
                                          OR c.close_date >= mo.month_end)
                                     AND COALESCE(l.date_start, c.date_start)
                                         <= mo.month_end
                                     AND (l.date_end IS NULL
                                          OR l.date_end >= mo.month_end)), 0)
                       )::numeric, 2) AS mrr
                  FROM months mo
                  JOIN subscription_contract c ON c.id = mo.contract_id
                  LEFT JOIN subscription_contract_line l ON l.contract_id = c.id
                 GROUP BY mo.contract_id, mo.month_end, mo.factor
            ), moves AS (
                SELECT contract_id, month_end, mrr,
                       COALESCE(LAG(mrr) OVER w, 0) AS mrr_before,
                       COALESCE(MAX(mrr) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING
                                                AND 1 PRECEDING), 0) AS mrr_peak
                  FROM mrr
                WINDOW w AS (PARTITION BY contract_id ORDER BY month_end)
            )
            SELECT ROW_NUMBER() OVER (ORDER BY mv.month_end, mv.contract_id) AS id,
                   date_trunc('month', mv.month_end)::date AS date,
                   mv.contract_id, c.partner_id, c.plan_id, c.user_id,
                   c.commercial_partner_id, c.company_id, c.currency_id,
                   CASE WHEN mv.mrr_before = 0 AND mv.mrr_peak > 0
                            THEN 'reactivation'
                        WHEN mv.mrr_before = 0 AND EXISTS (
                            -- a former customer comes back: an earlier
                            -- contract closed, none running the day before
                            SELECT 1 FROM subscription_contract old
                             WHERE old.commercial_partner_id
                                   = c.commercial_partner_id
                               AND old.id != c.id AND old.state = 'closed'
                               AND old.close_date < c.date_start
                        ) AND NOT EXISTS (
                            SELECT 1 FROM subscription_contract run
                             WHERE run.commercial_partner_id
                                   = c.commercial_partner_id
                               AND run.id != c.id
                               AND run.state NOT IN ('draft', 'cancelled')
                               AND run.date_start < c.date_start
                               AND (run.close_date IS NULL
                                    OR run.close_date >= c.date_start)
                        ) THEN 'reactivation'
                        WHEN mv.mrr_before = 0 THEN 'new'
                        WHEN mv.mrr = 0 THEN 'churn'
                        WHEN mv.mrr > mv.mrr_before THEN 'expansion'
                        ELSE 'contraction'
                   END AS movement,
                   mv.mrr_before, mv.mrr AS mrr_after,
                   mv.mrr - mv.mrr_before AS amount
              FROM moves mv
              JOIN subscription_contract c ON c.id = mv.contract_id
             WHERE mv.mrr != mv.mrr_before
            """
        )
