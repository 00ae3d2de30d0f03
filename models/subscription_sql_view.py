from odoo import api, models, tools
from odoo.tools import SQL


class SubscriptionSqlView(models.AbstractModel):
    """Base of the reports read from a PostgreSQL view (MRR movements,
    deferred revenue, forecast): the view is (re)created from `_get_query()`,
    and every read runs without PostgreSQL's JIT, which spends seconds
    compiling these queries (the planner prices them far above what they
    cost) for little or no gain."""

    _name = "subscription.sql.view"
    _description = "Subscription Report SQL View"

    def _get_query(self):
        raise NotImplementedError()

    def _disable_jit(self):
        """No JIT for this transaction."""
        self.env.cr.execute("SET LOCAL jit = off")

    @api.model
    def _read_group(self, *args, **kwargs):
        self._disable_jit()
        return super()._read_group(*args, **kwargs)

    def search_fetch(self, *args, **kwargs):
        self._disable_jit()
        return super().search_fetch(*args, **kwargs)

    def init(self):
        if self._abstract:
            return
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (%s)",
                SQL.identifier(self._table),
                self._get_query(),
            )
        )
