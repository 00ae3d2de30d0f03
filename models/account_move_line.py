from odoo import api, fields, models
from odoo.tools import SQL


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    subscription_proration = fields.Float(
        string="Prorated Share",
        digits=0,
        copy=True,
        readonly=True,
        help="Share of the full period this subscription line bills (billed days "
        "over the days of the period). The line total is the full total times "
        "this share, rounded once, so that it is exact for any quantity. Empty: "
        "the whole period.",
    )
    subscription_line_id = fields.Many2one(
        "subscription.contract.line",
        index="btree_not_null",
        copy=False,
        readonly=True,
        ondelete="restrict",
        help="Contract line whose days this invoice line bills (or gives back).",
    )
    subscription_date_from = fields.Date(
        string="Billed From", copy=False, readonly=True
    )
    subscription_date_to = fields.Date(string="Billed To", copy=False, readonly=True)
    subscription_credit = fields.Boolean(
        string="Gives Back Billed Days",
        copy=False,
        readonly=True,
        help="Set on the lines of an amendment that give back days billed before "
        "the change (the old quantity or price of a contract line).",
    )

    # === CRUD METHODS === #

    def init(self):
        res = super().init()
        # Exactly once by the day and by the contract line: the days a contract
        # line is billed by live invoices never overlap, nor the days given back.
        # Period invoices and amendment invoices share this key, so that neither
        # bills again what the other billed (a rerun, two workers, a crash).
        self.env.cr.execute(SQL("CREATE EXTENSION IF NOT EXISTS btree_gist"))
        self.env.cr.execute(
            SQL(
                "SELECT 1 FROM pg_constraint WHERE conname = %s",
                "account_move_line_subscription_days_excl",
            )
        )
        if not self.env.cr.fetchone():
            self.env.cr.execute(
                SQL(
                    """
                    ALTER TABLE account_move_line
                    ADD CONSTRAINT account_move_line_subscription_days_excl
                    EXCLUDE USING gist (
                        subscription_line_id WITH =,
                        (CASE WHEN subscription_credit THEN 1 ELSE 0 END) WITH =,
                        daterange(subscription_date_from, subscription_date_to, '[]')
                            WITH &&
                    ) WHERE (
                        subscription_line_id IS NOT NULL
                        AND parent_state != 'cancel'
                    )
                    """
                )
            )
        return res

    @api.model
    def _subscription_billed_days(self, contract_lines):
        """{(contract line id, gives back): set of day ordinals} billed by live
        invoices, read in one query."""
        result = {}
        if not contract_lines:
            return result
        groups = self.sudo()._read_group(
            [
                ("subscription_line_id", "in", contract_lines.ids),
                ("parent_state", "!=", "cancel"),
            ],
            [
                "subscription_line_id",
                "subscription_credit",
                "subscription_date_from:day",
                "subscription_date_to:day",
            ],
        )
        for line, credit, date_from, date_to in groups:
            if not date_from or not date_to:
                continue
            result.setdefault((line.id, credit), set()).update(
                range(date_from.toordinal(), date_to.toordinal() + 1)
            )
        return result
