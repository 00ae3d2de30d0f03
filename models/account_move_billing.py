import logging

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Name of the PostgreSQL constraint that keeps the billed days of a contract's
# non-cancelled invoices apart.
BILLED_DAYS_CONSTRAINT = "account_move_subscription_billed_days_excl"


class AccountMove(models.Model):
    _inherit = "account.move"

    def init(self):
        res = super().init()
        cr = self.env.cr
        # No day is billed twice: the billed days (period start to end, both
        # included) of a contract's non-cancelled invoices never overlap. An
        # exclusion constraint needs btree_gist for the "=" on the contract; it is
        # a trusted extension (PostgreSQL 13+), so the database owner may create it
        # without being a superuser.
        cr.execute(SQL("CREATE EXTENSION IF NOT EXISTS btree_gist"))
        cr.execute(
            SQL(
                "SELECT 1 FROM pg_constraint WHERE conname = %s", BILLED_DAYS_CONSTRAINT
            )
        )
        if not cr.fetchone():
            cr.execute(
                SQL(
                    """
                    ALTER TABLE account_move ADD CONSTRAINT %s
                    EXCLUDE USING gist (
                        subscription_contract_id WITH =,
                        daterange(
                            subscription_period_start, subscription_period_end, '[]'
                        ) WITH &&
                    ) WHERE (
                        subscription_contract_id IS NOT NULL
                        AND subscription_period_start IS NOT NULL
                        AND subscription_period_end IS NOT NULL
                        AND state != 'cancel'
                    )
                    """,
                    SQL.identifier(BILLED_DAYS_CONSTRAINT),
                )
            )
        # The days constraint replaces the unique key on (contract, period start)
        # of earlier versions: a period rebuilt after a renewal or a cancellation
        # may start on the same day with another end.
        cr.execute(SQL("DROP INDEX IF EXISTS account_move_subscription_period_uniq"))
        return res

    @api.model
    def _get_billed_ranges(self, contracts, first_day):
        """{contract id: [(start, end), ...]} of the days billed by the
        contracts' non-cancelled invoices from ``first_day`` on (one query for a
        batch)."""
        groups = self.sudo()._read_group(
            [
                ("subscription_contract_id", "in", contracts.ids),
                ("state", "!=", "cancel"),
                ("subscription_period_end", ">=", first_day),
            ],
            [
                "subscription_contract_id",
                "subscription_period_start:day",
                "subscription_period_end:day",
            ],
        )
        ranges = {}
        for contract, start, end in groups:
            ranges.setdefault(contract.id, []).append(
                (fields.Date.to_date(start), fields.Date.to_date(end))
            )
        return ranges

    def _prepare_product_base_line_for_taxes_computation(self, product_line):
        """A prorated subscription line keeps the unit price and quantity of the
        contract; its total is prorated (then rounded once), not its unit price,
        which Odoo rounds to the price precision before the quantity."""
        base_line = super()._prepare_product_base_line_for_taxes_computation(
            product_line
        )
        ratio = product_line.subscription_proration
        if ratio and self.is_invoice(include_receipts=True):
            base_line["price_unit"] *= ratio
        return base_line
