from odoo import Command, _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL, formatLang

from ..lib import usage

BILLING_TYPES = [("fixed", "Fixed price"), ("metered", "Metered (usage)")]
TIER_MODES = [
    ("graduated", "Graduated: each unit at the price of its tier"),
    ("volume", "Volume: every unit at the price of the tier reached"),
]


# Changed on a running contract, they apply from the amendment date.
METERED_TERMS = (
    "billing_type",
    "included_quantity",
    "minimum_amount",
    "tier_mode",
    "tier_ids",
)


class SubscriptionContractLineTier(models.Model):
    _name = "subscription.contract.line.tier"
    _description = "Price Tier of a Metered Contract Line"
    _order = "line_id, up_to_quantity, id"

    line_id = fields.Many2one(
        "subscription.contract.line", required=True, index=True, ondelete="cascade"
    )
    currency_id = fields.Many2one(related="line_id.currency_id")
    up_to_quantity = fields.Float(
        string="Up To",
        digits="Product Unit of Measure",
        help="Last billable unit (after the allowance) priced at this tier. 0: no "
        "limit (last tier).",
    )
    price_unit = fields.Float(
        string="Unit Price", digits="Product Price", required=True
    )


class SubscriptionContractLine(models.Model):
    _inherit = "subscription.contract.line"

    billing_type = fields.Selection(
        BILLING_TYPES,
        default="fixed",
        required=True,
        help="Fixed: the quantity at the unit price every period. Metered: the "
        "usage recorded during a period, billed in arrears on the first invoice "
        "after the period ends.",
    )
    included_quantity = fields.Float(
        string="Included per Period",
        digits="Product Unit of Measure",
        help="Units included in each period (allowance), prorated by the day for "
        "a partial period; only the units above are billed.",
    )
    tier_mode = fields.Selection(TIER_MODES, default="graduated", required=True)
    tier_ids = fields.One2many(
        "subscription.contract.line.tier", "line_id", string="Price Tiers", copy=True
    )
    minimum_amount = fields.Monetary(
        string="Minimum per Period",
        help="Least amount billed for a period of usage (prorated by the day).",
    )
    usage_ids = fields.One2many(
        "subscription.usage", "contract_line_id", string="Usage Records"
    )
    current_usage_quantity = fields.Float(
        string="Used This Period",
        compute="_compute_current_usage",
        digits="Product Unit of Measure",
    )
    current_usage_amount = fields.Monetary(
        string="Usage Amount So Far", compute="_compute_current_usage"
    )

    # === COMPUTE METHODS === #

    @api.depends(
        "billing_type", "quantity", "price_unit", "discount", "tax_ids", "currency_id"
    )
    def _compute_price(self):
        metered = self.filtered(lambda line: line.billing_type == "metered")
        metered.price_subtotal = 0.0
        metered.price_total = 0.0
        return super(SubscriptionContractLine, self - metered)._compute_price()

    def _compute_current_usage(self):
        for line in self:
            qty = amount = 0.0
            contract = line.contract_id
            if line.billing_type == "metered" and line.id and contract.date_start:
                qty, amount = contract._get_current_usage(line)
            line.current_usage_quantity = qty
            line.current_usage_amount = amount

    # === CONSTRAINT METHODS === #

    @api.constrains("tier_ids", "included_quantity", "minimum_amount", "billing_type")
    def _check_metered_terms(self):
        for line in self:
            if line.included_quantity < 0 or line.minimum_amount < 0:
                raise ValidationError(
                    _(
                        "Contract %(contract)s, line %(line)s: the included quantity "
                        "and the minimum charge cannot be negative.",
                        contract=line.contract_id.name,
                        line=line.product_id.display_name,
                    )
                )
            try:
                usage.check_tiers(line._get_tiers())
            except ValueError:
                raise ValidationError(
                    _(
                        "Contract %(contract)s, line %(line)s: the tiers' 'Up To' "
                        "quantities must increase, only the last one may be 0 (no "
                        "limit), and no price may be negative.",
                        contract=line.contract_id.name,
                        line=line.product_id.display_name,
                    )
                ) from None

    # === BUSINESS METHODS === #

    def _get_amended_fields(self):
        """The metered terms change from the amendment date too: the periods
        around it are priced by the day with the terms of each version."""
        return (*super()._get_amended_fields(), *METERED_TERMS)

    def _get_amendment_texts(self, field, value):
        if field not in METERED_TERMS:
            return super()._get_amendment_texts(field, value)
        if field == "tier_ids":
            return (
                self._format_tiers(self._get_tiers()),
                self._format_tiers(
                    sorted(
                        (
                            (tier["up_to_quantity"] or None, tier["price_unit"])
                            for tier in self._apply_tier_commands(value)
                        ),
                        key=lambda t: (t[0] is None, t[0] or 0.0),
                    )
                ),
            )
        if field == "minimum_amount":
            return self.currency_id.format(self[field]), self.currency_id.format(value)
        if field == "included_quantity":
            return (
                formatLang(self.env, self[field], digits=2),
                formatLang(self.env, value or 0.0, digits=2),
            )
        labels = dict(self._fields[field]._description_selection(self.env))
        return labels.get(self[field], ""), labels.get(value, "")

    def _format_tiers(self, tiers):
        """'up to 2,000.00: 0.05; above: 0.03' (for the chatter)."""
        return (
            "; ".join(
                _(
                    "up to %(limit)s: %(price)s",
                    limit=formatLang(self.env, up_to, digits=2),
                    price=price,
                )
                if up_to
                else _("above: %(price)s", price=price)
                for up_to, price in tiers
            )
            or "-"
        )

    def _apply_tier_commands(self, commands):
        """``[{up_to_quantity, price_unit}]``: the tiers of this line once the
        x2many ``commands`` are applied, for a new version of the line."""
        tiers = {
            tier.id: {
                "up_to_quantity": tier.up_to_quantity,
                "price_unit": tier.price_unit,
            }
            for tier in self.tier_ids
        }
        created = []
        model = self.env["subscription.contract.line.tier"]

        def read(ids):
            return {
                tier.id: {
                    "up_to_quantity": tier.up_to_quantity,
                    "price_unit": tier.price_unit,
                }
                for tier in model.browse(ids)
            }

        for command in commands or []:
            code = command[0]
            if code == Command.CREATE:
                created.append(
                    {
                        "up_to_quantity": command[2].get("up_to_quantity") or 0.0,
                        "price_unit": command[2].get("price_unit") or 0.0,
                    }
                )
            elif code == Command.UPDATE:
                tier = tiers.setdefault(command[1], read([command[1]])[command[1]])
                tier.update(
                    {
                        key: command[2][key]
                        for key in ("up_to_quantity", "price_unit")
                        if key in command[2]
                    }
                )
            elif code in (Command.DELETE, Command.UNLINK):
                tiers.pop(command[1], None)
            elif code == Command.LINK:
                tiers.update(read([command[1]]))
            elif code == Command.CLEAR:
                tiers.clear()
            elif code == Command.SET:
                tiers = read(command[2])
        return [*tiers.values(), *created]

    def _amend(self, vals):
        """The usage already recorded on the days of the new version (an
        amendment from today, or from a past day of a period not billed yet)
        moves to it with the line's days: none is left outside its line."""
        result = super()._amend(vals)
        if self.billing_type == "metered" and self.date_end:
            successor = self.search(
                [("previous_line_id", "=", self.id)], order="id desc", limit=1
            )
            if successor.billing_type == "metered":
                self._move_usage_to(successor, self.date_end)
        return result

    def _move_usage_to(self, successor, last_day):
        """Move the unbilled usage of this line dated after ``last_day`` to
        ``successor`` (a new version: no key of its own yet), in one UPDATE."""
        self.env["subscription.usage"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                UPDATE subscription_usage
                   SET contract_line_id = %(new)s
                 WHERE contract_line_id = %(old)s
                   AND usage_date > %(day)s
                   AND invoice_line_id IS NULL
                """,
                old=self.id,
                new=successor.id,
                day=last_day,
            )
        )
        self.env["subscription.usage"].invalidate_model(["contract_line_id"])

    def _prepare_amended_line_vals(self, vals, day):
        """A new version of a metered line keeps the terms not changed, its
        tiers among them (copied, the commands of ``vals`` applied)."""
        new_vals = super()._prepare_amended_line_vals(vals, day)
        if (
            self.billing_type == "metered"
            or vals.get("billing_type") == "metered"
            or "tier_ids" in vals
        ):
            for field in (
                "billing_type",
                "included_quantity",
                "minimum_amount",
                "tier_mode",
            ):
                new_vals.setdefault(field, self[field])
            new_vals["tier_ids"] = [
                Command.create(tier)
                for tier in self._apply_tier_commands(vals.get("tier_ids"))
            ]
        return new_vals

    def _get_tiers(self):
        """``[(up_to or None, price)]`` in order, for ``lib.usage``."""
        self.ensure_one()
        prefetched = self.env.cr.cache.get("subscription_usage_tiers")
        if prefetched is not None and self.id in prefetched:
            return prefetched[self.id]
        tiers = self.tier_ids.sorted(
            lambda t: (not t.up_to_quantity, t.up_to_quantity, t.id)
        )
        return [(t.up_to_quantity or None, t.price_unit) for t in tiers]

    def _read_tiers(self):
        """{line id: tiers} of these lines (as ``_get_tiers``), in one query."""
        result = {line_id: [] for line_id in self.ids}
        if not self:
            return result
        self.env["subscription.contract.line.tier"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT line_id, up_to_quantity, price_unit
                  FROM subscription_contract_line_tier
                 WHERE line_id = ANY(%s)
                 ORDER BY line_id, COALESCE(up_to_quantity, 0) = 0,
                          up_to_quantity, id
                """,
                self.ids,
            )
        )
        for line_id, up_to, price in self.env.cr.fetchall():
            result[line_id].append((up_to or None, price))
        return result

    def _get_usage_charge(self, used, ratio):
        """The ``lib.usage.Charge`` of ``used`` units over a period of which
        ``ratio`` is in force."""
        self.ensure_one()
        currency = self.currency_id or self.company_id.currency_id
        return usage.charge(
            used,
            self.price_unit,
            included=self.included_quantity,
            tiers=self._get_tiers(),
            mode=self.tier_mode,
            minimum=self.minimum_amount,
            ratio=ratio,
            digits=currency.decimal_places,
            qty_digits=self.env["decimal.precision"].precision_get(
                "Product Unit of Measure"
            ),
        )

    # === ACTION METHODS === #

    def action_open_metered_terms(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Metered Line"),
            "res_model": "subscription.contract.line",
            "res_id": self.id,
            "view_mode": "form",
            "views": [
                (
                    self.env.ref(
                        "subscription_billing.subscription_contract_line_view_form_metered"
                    ).id,
                    "form",
                )
            ],
            "target": "new",
        }
