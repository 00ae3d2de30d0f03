from odoo import Command, _, api, fields, models

from ..models.subscription_plan import TERM_UNITS


class SubscriptionContractRenew(models.TransientModel):
    _name = "subscription.contract.renew"
    _description = "Renew a Subscription Contract"

    contract_id = fields.Many2one("subscription.contract", required=True)
    currency_id = fields.Many2one(related="contract_id.currency_id")
    current_end = fields.Date(related="contract_id.date_end")
    renewal_length = fields.Integer(
        string="New Term",
        compute="_compute_from_contract",
        store=True,
        readonly=False,
        required=True,
    )
    renewal_unit = fields.Selection(
        TERM_UNITS,
        compute="_compute_from_contract",
        store=True,
        readonly=False,
        required=True,
    )
    price_increase = fields.Float(
        string="Price Revision (%)",
        compute="_compute_from_contract",
        store=True,
        readonly=False,
        digits=(16, 2),
    )
    line_ids = fields.One2many(
        "subscription.contract.renew.line",
        "wizard_id",
        compute="_compute_from_contract",
        store=True,
        readonly=False,
    )
    new_end = fields.Date(compute="_compute_new_end")

    # === COMPUTE METHODS === #

    @api.depends("contract_id")
    def _compute_from_contract(self):
        for wizard in self:
            contract = wizard.contract_id
            length, unit = contract._get_renewal_term()
            wizard.renewal_length = length
            wizard.renewal_unit = unit
            wizard.price_increase = contract.renewal_price_increase
            wizard.line_ids = [Command.clear()] + [
                Command.create(
                    {
                        "contract_line_id": line.id,
                        "product_id": line.product_id.id,
                        "quantity": line.quantity,
                        "price_unit": line.price_unit,
                    }
                )
                for line in contract.line_ids
            ]

    @api.depends("renewal_length", "renewal_unit", "contract_id.date_end")
    def _compute_new_end(self):
        for wizard in self:
            wizard.new_end = wizard.contract_id._get_renewed_end(
                wizard.renewal_length, wizard.renewal_unit
            )

    # === ACTION METHODS === #

    def action_renew(self):
        self.ensure_one()
        contract = self.contract_id
        changes = []
        kept = self.line_ids.contract_line_id
        for line in contract.line_ids - kept:
            changes.append(
                _("removed %(product)s", product=line.product_id.display_name)
            )
            line.unlink()
        for wizard_line in self.line_ids:
            line = wizard_line.contract_line_id
            if not line:
                contract.line_ids = [
                    Command.create(
                        {
                            "product_id": wizard_line.product_id.id,
                            "quantity": wizard_line.quantity,
                            "price_unit": wizard_line.price_unit,
                        }
                    )
                ]
                changes.append(
                    _("added %(product)s", product=wizard_line.product_id.display_name)
                )
            elif (line.quantity, line.price_unit) != (
                wizard_line.quantity,
                wizard_line.price_unit,
            ):
                changes.append(
                    _(
                        "%(product)s: %(old_qty)s x %(old_price)s, now %(qty)s x "
                        "%(price)s",
                        product=line.product_id.display_name,
                        old_qty=line.quantity,
                        old_price=line.price_unit,
                        qty=wizard_line.quantity,
                        price=wizard_line.price_unit,
                    )
                )
                line.write(
                    {
                        "quantity": wizard_line.quantity,
                        "price_unit": wizard_line.price_unit,
                    }
                )
        contract._renew(
            length=self.renewal_length,
            unit=self.renewal_unit,
            price_increase=self.price_increase,
        )
        if changes:
            contract.message_post(
                body=_(
                    "Lines changed at renewal: %(changes)s.", changes="; ".join(changes)
                ),
                subtype_xmlid="mail.mt_note",
            )
        contract._send_renewed_email()
        return {"type": "ir.actions.act_window_close"}


class SubscriptionContractRenewLine(models.TransientModel):
    _name = "subscription.contract.renew.line"
    _description = "Renew a Subscription Contract: Line"

    wizard_id = fields.Many2one(
        "subscription.contract.renew", required=True, ondelete="cascade"
    )
    contract_line_id = fields.Many2one("subscription.contract.line")
    product_id = fields.Many2one("product.product", required=True)
    quantity = fields.Float(default=1.0, digits="Product Unit of Measure")
    price_unit = fields.Float(string="Unit Price", digits="Product Price")
