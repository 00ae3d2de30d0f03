from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from ..lib import recurrence


class SubscriptionContractAmend(models.TransientModel):
    _name = "subscription.contract.amend"
    _description = "Amend a Subscription Contract"

    contract_id = fields.Many2one(
        "subscription.contract", required=True, ondelete="cascade"
    )
    currency_id = fields.Many2one(related="contract_id.currency_id")
    company_id = fields.Many2one(related="contract_id.company_id")
    date = fields.Date(
        string="Effective Date",
        required=True,
        compute="_compute_date",
        store=True,
        precompute=True,
        readonly=False,
        help="First day the new lines apply. Today by default; a later date is "
        "allowed, a past one only within a period not invoiced yet.",
    )
    line_ids = fields.One2many(
        "subscription.contract.amend.line",
        "wizard_id",
        string="Lines",
        compute="_compute_line_ids",
        store=True,
        precompute=True,
        readonly=False,
    )
    send_notice = fields.Boolean(
        string="Send the Amendment Notice",
        default=True,
        help="Email the customer the lines and the new recurring amount.",
    )
    amount_now = fields.Monetary(
        string="Prorated Amount Now",
        compute="_compute_amounts",
        help="Invoiced now (positive) or given back (negative) for the days of "
        "the periods already invoiced.",
    )
    amount_now_note = fields.Char(compute="_compute_amounts")
    recurring_amount = fields.Monetary(
        string="Current Recurring Amount",
        related="contract_id.recurring_amount_untaxed",
    )
    new_recurring_amount = fields.Monetary(compute="_compute_amounts")
    mrr = fields.Monetary(string="Current MRR", related="contract_id.mrr")
    new_mrr = fields.Monetary(string="New MRR", compute="_compute_amounts")

    # === COMPUTE METHODS === #

    @api.depends("contract_id")
    def _compute_date(self):
        for wizard in self:
            if wizard.contract_id and not wizard.date:
                wizard.date = wizard.contract_id._get_today()

    @api.depends("contract_id")
    def _compute_line_ids(self):
        for wizard in self:
            day = wizard.date or wizard.contract_id._get_today()
            wizard.line_ids = [Command.clear()] + [
                Command.create(
                    {
                        "contract_line_id": line.id,
                        "product_id": line.product_id.id,
                        "name": line.name,
                        "quantity": line.quantity,
                        "price_unit": line.price_unit,
                        "discount": line.discount,
                    }
                )
                for line in wizard.contract_id.line_ids
                if line._is_open_on(day)
            ]

    @api.depends(
        "date",
        "line_ids.product_id",
        "line_ids.quantity",
        "line_ids.price_unit",
        "line_ids.discount",
    )
    def _compute_amounts(self):
        for wizard in self:
            contract = wizard.contract_id
            if not contract or not wizard.date:
                wizard.update(
                    {
                        "amount_now": 0.0,
                        "amount_now_note": False,
                        "new_recurring_amount": 0.0,
                        "new_mrr": 0.0,
                    }
                )
                continue
            lines = wizard._get_virtual_lines()
            segments = contract._get_amendment_segments(lines)
            amount = contract._get_segments_amounts(segments)[0]
            if amount > 0:
                note = _("Invoiced now for the days of the invoiced period.")
            elif amount < 0 and contract.company_id.subscription_credit_decrease:
                note = _("Credited now for the days of the invoiced period.")
            elif amount < 0:
                note = _("Not credited: the lower amount applies from the next period.")
            else:
                note = _(
                    "Nothing to invoice now: the change applies from the next invoice."
                )
            recurring = contract.currency_id.round(
                sum(
                    lines.filtered(lambda line: not line.date_end).mapped(
                        "price_subtotal"
                    )
                )
            )
            wizard.update(
                {
                    "amount_now": amount,
                    "amount_now_note": note,
                    "new_recurring_amount": recurring,
                    "new_mrr": contract.currency_id.round(
                        recurring * contract._get_monthly_factor()
                    ),
                }
            )

    # === ACTION METHODS === #

    def action_confirm(self):
        self.ensure_one()
        contract = self.contract_id.with_context(subscription_amendment_date=self.date)
        contract._check_amendment_date(self.date)
        changes = self._get_changes()
        if not any(changes.values()):
            raise UserError(
                _("Nothing changed: edit, add or remove a line before confirming.")
            )
        Line = self.env["subscription.contract.line"].with_context(
            subscription_amendment_date=self.date
        )
        changes["removed"].with_context(subscription_amendment_date=self.date).unlink()
        for line, vals in changes["changed"]:
            line.with_context(subscription_amendment_date=self.date).write(vals)
        if changes["added"]:
            Line.create(changes["added"])
        contract._bill_amendments(raise_errors=True)
        if self.send_notice:
            contract._send_amendment_notice()
        return {"type": "ir.actions.act_window_close"}

    # === BUSINESS METHODS === #

    def _get_changes(self):
        """{'removed': lines, 'changed': [(line, vals)], 'added': [vals]}."""
        self.ensure_one()
        contract = self.contract_id
        open_lines = contract.line_ids.filtered(lambda ln: ln._is_open_on(self.date))
        result = {
            "removed": open_lines - self.line_ids.contract_line_id,
            "changed": [],
            "added": [],
        }
        for wizard_line in self.line_ids:
            vals = wizard_line._get_line_vals()
            line = wizard_line.contract_line_id
            if not line:
                result["added"].append(dict(vals, contract_id=contract.id))
                continue
            diff = {
                field: value
                for field, value in vals.items()
                if field != "name"
                and (line[field].id if field == "product_id" else line[field]) != value
            }
            if diff:
                if "product_id" in diff and vals.get("name"):
                    diff["name"] = vals["name"]
                result["changed"].append((line, diff))
        return result

    def _get_virtual_lines(self):
        """The contract lines as they would be after the change (new records,
        nothing written), for the preview of the amounts."""
        self.ensure_one()
        contract = self.contract_id
        day = self.date
        Line = self.env["subscription.contract.line"]
        changes = self._get_changes()
        changed = dict(changes["changed"])
        result = Line
        for line in contract.line_ids:
            if line in changes["removed"] or line in changed:
                if not line._can_change_in_place(day):
                    result |= Line.new(
                        {"date_end": day - recurrence.ONE_DAY}, origin=line
                    )
                if line in changed:
                    result |= Line.new(
                        line._prepare_amended_line_vals(changed[line], day)
                    )
            else:
                result |= line
        for vals in changes["added"]:
            result |= Line.new(dict(vals, date_start=day))
        return result


class SubscriptionContractAmendLine(models.TransientModel):
    _name = "subscription.contract.amend.line"
    _description = "Line of a Contract Amendment"

    wizard_id = fields.Many2one(
        "subscription.contract.amend", required=True, ondelete="cascade"
    )
    contract_line_id = fields.Many2one("subscription.contract.line")
    product_id = fields.Many2one(
        "product.product", required=True, domain="[('sale_ok', '=', True)]"
    )
    name = fields.Text(string="Description")
    quantity = fields.Float(default=1.0, digits="Product Unit of Measure")
    price_unit = fields.Float(string="Unit Price", digits="Product Price")
    discount = fields.Float(string="Discount (%)", digits="Discount")

    @api.onchange("product_id")
    def _onchange_product_id(self):
        if self.product_id and self.product_id != self.contract_line_id.product_id:
            self.name = self.product_id.get_product_multiline_description_sale()
            self.price_unit = self.product_id.lst_price

    def _get_line_vals(self):
        self.ensure_one()
        vals = {
            "product_id": self.product_id.id,
            "quantity": self.quantity,
            "price_unit": self.price_unit,
            "discount": self.discount,
        }
        if self.name:
            vals["name"] = self.name
        return vals
