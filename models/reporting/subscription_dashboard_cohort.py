from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.tools import SQL, format_date

COHORT_MONTHS = 12


class SubscriptionDashboard(models.AbstractModel):
    _inherit = "subscription.dashboard"

    def _get_cohort_sql(self, first, month):
        """Movements of the contracts whose MRR started (first movement) from
        ``first`` on, summed per start month, month and currency: the MRR
        change and the change in contracts with MRR (a new or reactivated
        contract comes in, a churned one leaves)."""
        return self._movement_sql(
            SQL(
                """f.cohort, m.date, m.currency_id, SUM(m.amount),
                   SUM(CASE WHEN m.movement IN ('new', 'reactivation') THEN 1
                            WHEN m.movement = 'churn' THEN -1 ELSE 0 END)"""
            ),
            SQL(
                "date <= %s AND f.cohort >= %s",
                month,
                first,
            ),
            SQL("1, 2, 3"),
            join=SQL(
                """m JOIN (SELECT contract_id, MIN(date) AS cohort
                             FROM subscription_dashboard_movement
                            WHERE company_id IN %s
                         GROUP BY contract_id) f USING (contract_id)""",
                tuple(self.env.companies.ids),
            ),
        )

    @api.model
    def get_cohort_data(self, month=None):
        """Retention of the contracts by the month their MRR started, over the
        last 12 start months: share of the contracts still paying and of
        their starting MRR kept, at the end of each month since."""
        self._check_access()
        month = self._get_month(month)
        first = month - relativedelta(months=COHORT_MONTHS - 1)
        end = self._month_end(month)
        groups = {}
        for cohort, day, currency_id, amount, count in self._get_cohort_sql(
            first, month
        ):
            moves = groups.setdefault(cohort, {}).setdefault(day, [{}, 0])
            moves[0][currency_id] = moves[0].get(currency_id, 0.0) + float(amount)
            moves[1] += count
        rows = []
        for index in range(COHORT_MONTHS):
            cohort = first + relativedelta(months=index)
            moves = groups.get(cohort)
            if not moves:
                continue
            running, contracts, cells = {}, 0, {}
            base_mrr = base_contracts = 0
            for offset in range(COHORT_MONTHS - index):
                day = cohort + relativedelta(months=offset)
                amounts, count = moves.get(day, [{}, 0])
                for currency_id, amount in amounts.items():
                    running[currency_id] = running.get(currency_id, 0.0) + amount
                contracts += count
                mrr = self._convert(running, end)
                if not offset:
                    base_mrr, base_contracts = mrr, contracts
                cells[offset] = {
                    "contracts": contracts,
                    "mrr": mrr,
                    "contract_rate": contracts / base_contracts * 100
                    if base_contracts
                    else 0.0,
                    "mrr_rate": mrr / base_mrr * 100 if base_mrr else 0.0,
                }
            rows.append(
                {
                    "cohort": fields.Date.to_string(cohort),
                    "label": format_date(self.env, cohort, date_format="MMM yyyy"),
                    "contracts": base_contracts,
                    "mrr": base_mrr,
                    "cells": cells,
                }
            )
        return {"offsets": list(range(COHORT_MONTHS)), "rows": rows}

    def _get_cohort_contract_ids(self, cohort):
        rows = self._movement_sql(
            SQL("contract_id"),
            group_by=SQL("1 HAVING MIN(date) = %s", fields.Date.to_date(cohort)),
        )
        return [row[0] for row in rows]

    @api.model
    def get_cohort_action(self, cohort):
        """The contracts whose MRR started in the month ``cohort``."""
        self._check_access()
        return {
            "type": "ir.actions.act_window",
            "name": _(
                "Contracts started in %(month)s",
                month=format_date(self.env, cohort, date_format="MMMM yyyy"),
            ),
            "res_model": "subscription.contract",
            "views": [(False, "list"), (False, "form")],
            "domain": [("id", "in", self._get_cohort_contract_ids(cohort))],
        }
