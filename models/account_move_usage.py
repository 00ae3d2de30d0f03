from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    subscription_usage_line_id = fields.Many2one(
        "subscription.contract.line",
        string="Metered Line",
        index="btree_not_null",
        copy=False,
        readonly=True,
        ondelete="restrict",
        help="Metered contract line whose usage this invoice line bills.",
    )
    subscription_usage_start = fields.Date(string="Usage From", readonly=True)
    subscription_usage_end = fields.Date(string="Usage To", readonly=True)
    subscription_usage_head = fields.Boolean(
        readonly=True,
        copy=False,
        help="The invoice line the usage records of the period are linked to.",
    )
    subscription_usage_used = fields.Float(
        string="Quantity Used", digits="Product Unit of Measure", readonly=True
    )
    subscription_usage_count = fields.Integer(string="Usage Records", readonly=True)
    subscription_usage_late = fields.Boolean(
        string="Recorded Late",
        readonly=True,
        help="Usage recorded after its period was invoiced.",
    )


class AccountMove(models.Model):
    _inherit = "account.move"

    def write(self, vals):
        if "state" in vals and vals["state"] != "cancel":
            # The usage of a cancelled invoice was set free and may have been
            # billed again: its invoice stays cancelled.
            for move in self.filtered(lambda m: m.state == "cancel"):
                if move.line_ids.filtered("subscription_usage_head"):
                    raise UserError(
                        _(
                            "%(move)s billed usage that was set free when it was "
                            "cancelled (and may have been invoiced again since): it "
                            "cannot be reset. The next invoice of the contract "
                            "bills that usage.",
                            move=move.display_name,
                        )
                    )
        result = super().write(vals)
        if vals.get("state") == "cancel":
            self._release_usage()
        return result

    def _release_usage(self):
        """Set free the usage records billed by these (cancelled) invoices: the
        next invoice of the contract bills them, once."""
        lines = self.line_ids.filtered("subscription_usage_head")
        if not lines:
            return
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "UPDATE subscription_usage SET invoice_line_id = NULL "
                "WHERE invoice_line_id IN %s",
                tuple(lines.ids),
            )
        )
        self.env["subscription.usage"].invalidate_model()
