from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..subscription_contract import RUNNING_STATES

MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")
# Days of sales the DSO looks back on.
DSO_DAYS = 90
# A running contract "ends" when its commitment ends within these months and
# it does not renew tacitly.
ENDING_MONTHS = 3
SERIES_MONTHS = 24


class SubscriptionDashboard(models.AbstractModel):
    """The recurring business at a glance: every figure computed set-based
    from the MRR movements (``subscription.mrr.movement``), the contracts and
    the invoices of the allowed companies, in the current company's currency,
    and the domain of the records each figure adds up (``_get_figure_action``)."""

    _name = "subscription.dashboard"
    _description = "Subscriptions Dashboard"

    # === HELPERS === #

    def _get_month(self, month=None):
        """First day of the month shown (the current month by default)."""
        day = fields.Date.to_date(month) if month else fields.Date.context_today(self)
        return day.replace(day=1)

    def _get_currency(self):
        return self.env.company.currency_id

    def _convert(self, amounts, day):
        """Sum ``{currency_id: amount}`` in the dashboard currency at ``day``."""
        target = self._get_currency()
        total = 0.0
        for currency_id, amount in amounts.items():
            currency = self.env["res.currency"].browse(currency_id)
            total += currency._convert(amount or 0.0, target, self.env.company, day)
        return target.round(total)

    def _check_access(self):
        self.env["subscription.mrr.movement"].check_access("read")
        self._load_movements()

    def _month_end(self, month):
        return month + relativedelta(months=1, days=-1)

    def _load_movements(self):
        """Read the MRR movements of the allowed companies once into a
        temporary table (dropped at the end of the transaction) that every
        figure then queries: the view is computed once per call."""
        self.env.flush_all()
        self.env["subscription.mrr.movement"]._disable_jit()
        self.env.cr.execute("DROP TABLE IF EXISTS subscription_dashboard_movement")
        self.env.cr.execute(
            SQL(
                """CREATE TEMPORARY TABLE subscription_dashboard_movement
                   ON COMMIT DROP AS
                   SELECT date, contract_id, commercial_partner_id, company_id,
                          currency_id, movement, amount
                     FROM subscription_mrr_movement WHERE company_id IN %s""",
                tuple(self.env.companies.ids),
            )
        )

    def _movement_sql(self, select, where=None, group_by=None, join=None):
        """Query the MRR movements of the allowed companies (loaded by
        ``_load_movements``)."""
        query = SQL(
            "SELECT %s FROM subscription_dashboard_movement %s"
            " WHERE company_id IN %s%s",
            select,
            join or SQL(),
            tuple(self.env.companies.ids),
            SQL(" AND %s", where) if where else SQL(),
        )
        if group_by:
            query = SQL("%s GROUP BY %s", query, group_by)
        self.env.cr.execute(query)
        return self.env.cr.fetchall()

    # === FIGURES === #

    def _get_series(self, month):
        """MRR, ARR and the movements of each of the last 24 months up to
        ``month``: one grouped query on the movements, summed up month by month
        per currency, each month converted at its last day's rate."""
        first = month - relativedelta(months=SERIES_MONTHS - 1)
        rows = self._movement_sql(
            SQL("date, movement, currency_id, SUM(amount)"),
            SQL("date <= %s", month),
            SQL("1, 2, 3"),
        )
        running = {}
        by_month = {}
        for day, movement, currency_id, amount in rows:
            running.setdefault(currency_id, 0.0)
            if day < first:
                running[currency_id] += float(amount)
            else:
                by_month.setdefault(day, []).append((movement, currency_id, amount))
        series = []
        for index in range(SERIES_MONTHS):
            day = first + relativedelta(months=index)
            end = self._month_end(day)
            moves = {movement: {} for movement in MOVEMENTS}
            for movement, currency_id, amount in by_month.get(day, []):
                running[currency_id] += float(amount)
                moves[movement][currency_id] = float(amount)
            mrr = self._convert(running, end)
            entry = {
                "month": fields.Date.to_string(day),
                "mrr": mrr,
                "arr": self._get_currency().round(mrr * 12),
            }
            for movement in MOVEMENTS:
                entry[movement] = self._convert(moves[movement], end)
            series.append(entry)
        return series

    def _get_customer_mrr(self, day):
        """{commercial partner id: {currency id: MRR}} at the end of ``day``'s
        month, positive MRR only."""
        rows = self._movement_sql(
            SQL("commercial_partner_id, currency_id, SUM(amount)"),
            SQL("date <= %s", day),
            SQL("1, 2 HAVING SUM(amount) > 0"),
        )
        result = {}
        for partner_id, currency_id, amount in rows:
            result.setdefault(partner_id, {})[currency_id] = float(amount)
        return result

    def _get_churned_customer_ids(self, month):
        before = self._get_customer_mrr(month - relativedelta(months=1))
        after = self._get_customer_mrr(month)
        return sorted(set(before) - set(after)), len(before)

    def _get_retention_cohort(self, month):
        """Contracts with MRR at the end of the month a year before ``month``."""
        start = month - relativedelta(months=12)
        rows = self._movement_sql(
            SQL("contract_id"),
            SQL("date <= %s", start),
            SQL("1 HAVING SUM(amount) > 0"),
        )
        return [row[0] for row in rows]

    def _get_retention(self, month):
        """Net and gross revenue retention over the 12 months up to
        ``month``: MRR of the contracts that had some a year before, plus all
        their movements since (net) or only their contractions and churn
        (gross), over their MRR a year before."""
        start = month - relativedelta(months=12)
        cohort = self._get_retention_cohort(month)
        if not cohort:
            return 0.0, 0.0, 0.0
        rows = self._movement_sql(
            SQL(
                "currency_id, SUM(amount) FILTER (WHERE date <= %s),"
                " SUM(amount) FILTER (WHERE date > %s),"
                " SUM(amount) FILTER (WHERE date > %s AND amount < 0)",
                start,
                start,
                start,
            ),
            SQL("contract_id IN %s AND date <= %s", tuple(cohort), month),
            SQL("1"),
        )
        end = self._month_end(month)
        base = self._convert({r[0]: float(r[1] or 0) for r in rows}, end)
        net = self._convert({r[0]: float(r[2] or 0) for r in rows}, end)
        loss = self._convert({r[0]: float(r[3] or 0) for r in rows}, end)
        if not base:
            return 0.0, 0.0, 0.0
        return (base + net) / base * 100, (base + loss) / base * 100, base

    def _get_contract_counts(self):
        Contract = self.env["subscription.contract"]
        return {
            key: Contract.search_count(self._get_contract_domain(key))
            for key in ("running", "suspended", "ending")
        }

    def _get_contract_domain(self, key):
        domain = [("company_id", "in", self.env.companies.ids)]
        if key == "running":
            return domain + [("state", "=", "active")]
        if key == "suspended":
            return domain + [("state", "=", "suspended")]
        today = fields.Date.context_today(self)
        return domain + [
            ("state", "in", RUNNING_STATES),
            ("date_end", ">=", today),
            ("date_end", "<", today + relativedelta(months=ENDING_MONTHS)),
            "|",
            ("auto_renew", "=", False),
            ("renewal_refused", "=", True),
        ]

    def _get_invoice_domain(self, key):
        """Customer invoices and credit notes of the subscriptions: open ones
        (``receivable``), overdue ones (``overdue``), or those of the last
        ``DSO_DAYS`` days (``sales``)."""
        today = fields.Date.context_today(self)
        domain = [
            ("company_id", "in", self.env.companies.ids),
            ("subscription_contract_id", "!=", False),
            ("state", "=", "posted"),
            ("move_type", "in", ("out_invoice", "out_refund")),
        ]
        if key == "sales":
            return domain + [
                ("invoice_date", ">", today - relativedelta(days=DSO_DAYS)),
                ("invoice_date", "<=", today),
            ]
        domain += [("payment_state", "in", ("not_paid", "partial"))]
        if key == "overdue":
            domain += [
                ("move_type", "=", "out_invoice"),
                ("invoice_date_due", "<", today),
            ]
        return domain

    def _sum_invoices(self, key, field):
        """Sum of ``field`` (company currency) over the invoices of ``key``,
        per company, converted at today's rate."""
        groups = self.env["account.move"]._read_group(
            self._get_invoice_domain(key), ["company_id"], [f"{field}:sum"]
        )
        target = self._get_currency()
        today = fields.Date.context_today(self)
        return target.round(
            sum(
                company.currency_id._convert(amount, target, self.env.company, today)
                for company, amount in groups
            )
        )

    @api.model
    def get_dashboard_data(self, month=None):
        """Everything the dashboard shows, for ``month`` (ISO date, the current
        month by default)."""
        self._check_access()
        month = self._get_month(month)
        currency = self._get_currency()
        series = self._get_series(month)
        current = series[-1]
        previous = series[-2]
        churned, customers_before = self._get_churned_customer_ids(month)
        paying = self._get_customer_mrr(month)
        lost = -(current["churn"] + current["contraction"])
        nrr, grr, retention_base = self._get_retention(month)
        receivable = self._sum_invoices("receivable", "amount_residual_signed")
        sales = self._sum_invoices("sales", "amount_total_signed")
        figures = {
            "mrr": current["mrr"],
            "arr": current["arr"],
            **{movement: current[movement] for movement in MOVEMENTS},
            "net_change": currency.round(current["mrr"] - previous["mrr"]),
            "logo_churn": len(churned) / customers_before * 100
            if customers_before
            else 0.0,
            "churned_customers": len(churned),
            "customers_before": customers_before,
            "revenue_churn": lost / previous["mrr"] * 100 if previous["mrr"] else 0.0,
            "nrr": nrr,
            "grr": grr,
            "retention_base": retention_base,
            "customers": len(paying),
            "arpa": currency.round(current["mrr"] / len(paying)) if paying else 0.0,
            **self._get_contract_counts(),
            "overdue": self._sum_invoices("overdue", "amount_residual_signed"),
            "receivable": receivable,
            "dso": receivable / sales * DSO_DAYS if sales else 0.0,
        }
        movement_field = self.env["subscription.mrr.movement"]._fields["movement"]
        labels = dict(movement_field._description_selection(self.env))
        labels["mrr"] = (
            self.env["subscription.contract"]
            ._fields["mrr"]
            ._description_string(self.env)
        )
        return {
            "month": fields.Date.to_string(month),
            "labels": labels,
            "currency": {
                "id": currency.id,
                "symbol": currency.symbol,
                "position": currency.position,
                "digits": currency.decimal_places,
            },
            "series": series,
            "figures": figures,
        }

    # === ACTIONS === #

    def _movement_action(self, name, domain):
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": "subscription.mrr.movement",
            "views": [(False, "list"), (False, "pivot"), (False, "graph")],
            "domain": domain,
            "context": {"create": False},
        }

    @api.model
    def get_figure_action(self, figure, month=None):
        """The window action listing the records ``figure`` adds up."""
        self._check_access()
        month = self._get_month(month)
        companies = [("company_id", "in", self.env.companies.ids)]
        if figure in ("mrr", "arr", "arpa"):
            return self._movement_action(
                _("MRR at the end of the month: its movements so far"),
                companies + [("date", "<=", month)],
            )
        if figure in MOVEMENTS or figure in ("net_change", "revenue_churn"):
            kinds = {
                "net_change": list(MOVEMENTS),
                "revenue_churn": ["contraction", "churn"],
            }.get(figure, [figure])
            return self._movement_action(
                _("MRR movements of the month"),
                companies + [("date", "=", month), ("movement", "in", kinds)],
            )
        if figure in ("nrr", "grr"):
            domain = companies + [
                ("contract_id", "in", self._get_retention_cohort(month)),
                ("date", ">", month - relativedelta(months=12)),
                ("date", "<=", month),
            ]
            if figure == "grr":
                domain.append(("amount", "<", 0))
            return self._movement_action(
                _("Movements of the contracts running a year ago"), domain
            )
        if figure in ("logo_churn", "customers"):
            if figure == "logo_churn":
                ids = self._get_churned_customer_ids(month)[0]
                name = _("Customers lost in the month")
            else:
                ids = list(self._get_customer_mrr(month))
                name = _("Paying customers")
            return {
                "type": "ir.actions.act_window",
                "name": name,
                "res_model": "res.partner",
                "views": [(False, "list"), (False, "form")],
                "domain": [("id", "in", ids)],
            }
        if figure in ("running", "suspended", "ending"):
            return {
                "type": "ir.actions.act_window",
                "name": {
                    "running": _("Running contracts"),
                    "suspended": _("Suspended contracts"),
                    "ending": _("Ending contracts"),
                }[figure],
                "res_model": "subscription.contract",
                "views": [(False, "list"), (False, "form")],
                "domain": self._get_contract_domain(figure),
            }
        if figure in ("overdue", "receivable", "dso"):
            key = "overdue" if figure == "overdue" else "receivable"
            return {
                "type": "ir.actions.act_window",
                "name": _("Overdue invoices")
                if figure == "overdue"
                else _("Open invoices"),
                "res_model": "account.move",
                "views": [(False, "list"), (False, "form")],
                "domain": self._get_invoice_domain(key),
                "context": {"default_move_type": "out_invoice", "create": False},
            }
        raise UserError(_("The dashboard has no figure %(figure)s.", figure=figure))
