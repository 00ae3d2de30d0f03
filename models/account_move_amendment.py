from odoo import _, api, fields, models
from odoo.exceptions import UserError


class AccountMove(models.Model):
    _inherit = "account.move"

    subscription_amendment = fields.Boolean(
        string="Amendment Invoice",
        copy=False,
        readonly=True,
        help="Completes (or credits) a period already invoiced after a change of "
        "the contract lines during that period.",
    )

    # === BUSINESS METHODS === #

    def _check_period_free(self):
        """Amendment invoices have no period of their own: their days are checked
        line by line (the same days cannot be billed twice by a contract line)."""
        super(
            AccountMove, self.filtered("subscription_period_start")
        )._check_period_free()
        lines = self.line_ids.filtered("subscription_line_id")
        if not lines:
            return
        billed = self.env["account.move.line"]._subscription_billed_days(
            lines.subscription_line_id
        )
        for line in lines:
            days = set(
                range(
                    line.subscription_date_from.toordinal(),
                    line.subscription_date_to.toordinal() + 1,
                )
            )
            if days & billed.get(
                (line.subscription_line_id.id, line.subscription_credit), set()
            ):
                raise UserError(
                    _(
                        "%(move)s cannot be reset: the days of %(line)s from "
                        "%(start)s to %(end)s have been invoiced again since. Cancel "
                        "the later invoice first.",
                        move=line.move_id.display_name,
                        line=line.subscription_line_id.product_id.display_name,
                        start=line.subscription_date_from,
                        end=line.subscription_date_to,
                    )
                )

    def write(self, vals):
        if vals.get("state") == "cancel":
            self._check_no_live_amendment()
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_amended_period(self):
        self._check_no_live_amendment()

    def _check_no_live_amendment(self):
        """An amendment invoice completes the invoice of its period: the period
        invoice is cancelled only after it, so that re-billing the period never
        misses days the amendment billed net of the old values."""
        for move in self.filtered(
            lambda m: m.subscription_period_start and m.state != "cancel"
        ):
            amendment = self.search(
                [
                    ("subscription_contract_id", "=", move.subscription_contract_id.id),
                    ("subscription_amendment", "=", True),
                    ("state", "!=", "cancel"),
                    ("id", "not in", self.ids),
                    (
                        "line_ids.subscription_date_from",
                        "<=",
                        move.subscription_period_end,
                    ),
                    (
                        "line_ids.subscription_date_to",
                        ">=",
                        move.subscription_period_start,
                    ),
                ],
                limit=1,
            )
            if amendment:
                raise UserError(
                    _(
                        "%(move)s cannot be cancelled while %(amendment)s, which "
                        "completes it after a change of the contract, is not "
                        "cancelled. Cancel %(amendment)s first.",
                        move=move.display_name,
                        amendment=amendment.display_name,
                    )
                )
