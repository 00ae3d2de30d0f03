from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class SubscriptionContractLine(models.Model):
    _name = "subscription.contract.line"
    _description = "Subscription Contract Line"
    _order = "contract_id, sequence, id"
    _check_company_auto = True

    contract_id = fields.Many2one(
        "subscription.contract",
        required=True,
        index=True,
        ondelete="cascade",
    )
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(
        related="contract_id.company_id", store=True, precompute=True, index=True
    )
    currency_id = fields.Many2one(related="contract_id.currency_id")
    partner_id = fields.Many2one(related="contract_id.partner_id")
    product_id = fields.Many2one(
        "product.product",
        required=True,
        check_company=True,
        index=True,
        domain="[('sale_ok', '=', True)]",
        ondelete="restrict",
    )
    name = fields.Text(
        string="Description",
        compute="_compute_name",
        store=True,
        precompute=True,
        readonly=False,
        required=True,
    )
    quantity = fields.Float(
        default=1.0, digits="Product Unit of Measure", required=True
    )
    product_uom_category_id = fields.Many2one(related="product_id.uom_id.category_id")
    product_uom_id = fields.Many2one(
        "uom.uom",
        string="Unit of Measure",
        compute="_compute_product_uom_id",
        store=True,
        precompute=True,
        readonly=False,
        domain="[('category_id', '=', product_uom_category_id)]",
        ondelete="restrict",
    )
    price_unit = fields.Float(
        string="Unit Price",
        compute="_compute_price_unit",
        store=True,
        precompute=True,
        readonly=False,
        digits="Product Price",
    )
    discount = fields.Float(string="Discount (%)", digits="Discount")
    tax_ids = fields.Many2many(
        "account.tax",
        string="Taxes",
        compute="_compute_tax_ids",
        store=True,
        precompute=True,
        readonly=False,
        check_company=True,
        domain="[('type_tax_use', '=', 'sale')]",
    )
    price_subtotal = fields.Monetary(
        string="Subtotal", compute="_compute_price", store=True, precompute=True
    )
    price_total = fields.Monetary(
        string="Total", compute="_compute_price", store=True, precompute=True
    )

    # === COMPUTE METHODS === #

    @api.depends("product_id")
    def _compute_name(self):
        for line in self:
            if line.product_id:
                lang = line.contract_id.partner_id.lang or self.env.lang
                line.name = line.product_id.with_context(
                    lang=lang
                ).get_product_multiline_description_sale()
            elif not line.name:
                line.name = False

    @api.depends("product_id")
    def _compute_product_uom_id(self):
        for line in self:
            if not line.product_uom_id or (
                line.product_id.uom_id.category_id != line.product_uom_id.category_id
            ):
                line.product_uom_id = line.product_id.uom_id

    @api.depends("product_id", "product_uom_id", "contract_id.currency_id")
    def _compute_price_unit(self):
        for line in self:
            product = line.product_id
            if not product:
                line.price_unit = 0.0
                continue
            company = line.contract_id.company_id or self.env.company
            price = product.with_company(company).lst_price
            if line.product_uom_id and line.product_uom_id != product.uom_id:
                price = product.uom_id._compute_price(price, line.product_uom_id)
            currency = line.contract_id.currency_id
            if currency and currency != company.currency_id:
                price = company.currency_id._convert(
                    price,
                    currency,
                    company,
                    line.contract_id.date_start or fields.Date.context_today(line),
                    round=False,
                )
            line.price_unit = price

    @api.depends("product_id", "contract_id.fiscal_position_id", "company_id")
    def _compute_tax_ids(self):
        for line in self:
            company = line.contract_id.company_id or self.env.company
            taxes = line.product_id.taxes_id._filter_taxes_by_company(company)
            line.tax_ids = line.contract_id.fiscal_position_id.map_tax(taxes)

    @api.depends("quantity", "price_unit", "discount", "tax_ids", "currency_id")
    def _compute_price(self):
        for line in self:
            currency = line.currency_id or line.company_id.currency_id
            price = line.price_unit * (1 - (line.discount or 0.0) / 100.0)
            if line.tax_ids:
                taxes = line.tax_ids.compute_all(
                    price,
                    currency=currency,
                    quantity=line.quantity,
                    product=line.product_id,
                    partner=line.contract_id.partner_id,
                )
                line.price_subtotal = taxes["total_excluded"]
                line.price_total = taxes["total_included"]
            else:
                subtotal = currency.round(price * line.quantity) if currency else 0.0
                line.price_subtotal = subtotal
                line.price_total = subtotal

    # === CONSTRAINT METHODS === #

    @api.constrains("quantity")
    def _check_quantity(self):
        for line in self:
            if line.quantity < 0:
                raise ValidationError(
                    _(
                        "Contract %(contract)s, line %(line)s: the quantity "
                        "%(quantity)s is negative. Enter a quantity of 0 or more; "
                        "give a discount to lower the price.",
                        contract=line.contract_id.name,
                        line=line.product_id.display_name,
                        quantity=line.quantity,
                    )
                )

    @api.constrains("discount")
    def _check_discount(self):
        for line in self:
            if not 0.0 <= line.discount <= 100.0:
                raise ValidationError(
                    _(
                        "Contract %(contract)s, line %(line)s: the discount must be "
                        "between 0 and 100%%, not %(discount)s.",
                        contract=line.contract_id.name,
                        line=line.product_id.display_name,
                        discount=line.discount,
                    )
                )

    @api.constrains("product_uom_id", "product_id")
    def _check_uom_category(self):
        for line in self:
            if (
                line.product_uom_id
                and line.product_uom_id.category_id
                != line.product_id.uom_id.category_id
            ):
                raise ValidationError(
                    _(
                        "Contract %(contract)s, line %(line)s: the unit %(uom)s "
                        "cannot measure this product, sold in %(product_uom)s. "
                        "Choose a unit of the same category.",
                        contract=line.contract_id.name,
                        line=line.product_id.display_name,
                        uom=line.product_uom_id.name,
                        product_uom=line.product_id.uom_id.name,
                    )
                )
