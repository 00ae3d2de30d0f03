from odoo import Command, _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_date

from ..lib import recurrence
from .subscription_contract import RUNNING_STATES

# Changes that, on a running contract, end the line and start a new version of
# it on the date they take effect, so that the days before are billed (and
# shown) at the old values and the days after at the new ones.
AMENDED_FIELDS = (
    "product_id",
    "quantity",
    "price_unit",
    "discount",
    "product_uom_id",
    "tax_ids",
)


class SubscriptionContractLine(models.Model):
    _inherit = "subscription.contract.line"

    date_start = fields.Date(
        string="From",
        copy=False,
        help="First day the line is billed. Empty: from the start of the contract.",
    )
    date_end = fields.Date(
        string="Until",
        copy=False,
        index="btree_not_null",
        help="Last day the line is billed. Empty: as long as the contract runs. "
        "A line that has ended stays on the contract as its history.",
    )
    previous_line_id = fields.Many2one(
        "subscription.contract.line",
        string="Replaces",
        copy=False,
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The line this one continues with other values from its start date.",
    )
    line_status = fields.Selection(
        [("upcoming", "Upcoming"), ("in_force", "In force"), ("ended", "Ended")],
        compute="_compute_line_status",
    )

    # === COMPUTE METHODS === #

    @api.depends("date_start", "date_end", "contract_id.date_start")
    @api.depends_context("tz")
    def _compute_line_status(self):
        for line in self:
            contract = line.contract_id
            today = (
                contract._get_today()
                if contract.company_id
                else fields.Date.context_today(line)
            )
            if line.date_end and line.date_end < today:
                line.line_status = "ended"
            elif (line.date_start or contract.date_start or today) > today:
                line.line_status = "upcoming"
            else:
                line.line_status = "in_force"

    # === CONSTRAINT METHODS === #

    @api.constrains("date_start", "date_end")
    def _check_line_dates(self):
        for line in self:
            start = line.date_start or line.contract_id.date_start
            # A line may end the day before it starts: it was replaced on the
            # day it began and never applied.
            if line.date_end and start and line.date_end < start - recurrence.ONE_DAY:
                raise ValidationError(
                    _(
                        "Contract %(contract)s, line %(line)s: it cannot end on "
                        "%(end)s, before it starts on %(start)s.",
                        contract=line.contract_id.name,
                        line=line.product_id.display_name,
                        end=format_date(self.env, line.date_end),
                        start=format_date(self.env, start),
                    )
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        contracts = self.env["subscription.contract"].browse(
            [vals.get("contract_id") for vals in vals_list if vals.get("contract_id")]
        )
        running = {c.id: c for c in contracts if c.state in RUNNING_STATES}
        for vals in vals_list:
            contract = running.get(vals.get("contract_id"))
            if contract and not self.env.context.get("subscription_amendment_done"):
                day = vals.get("date_start") or contract._get_amendment_date()
                contract._check_amendment_date(fields.Date.to_date(day))
                vals["date_start"] = day
        lines = super().create(vals_list)
        if not self.env.context.get("subscription_amendment_done"):
            for line in lines.filtered(
                lambda ln: ln.contract_id.state in RUNNING_STATES
            ):
                line.contract_id._log_amendment(
                    line.date_start,
                    [
                        _(
                            "%(product)s added: %(quantity)s x %(price)s",
                            product=line.product_id.display_name,
                            quantity=line.quantity,
                            price=line.currency_id.format(line.price_unit),
                        )
                    ],
                )
            lines.contract_id.filtered(
                lambda c: c.state in RUNNING_STATES
            )._flag_amendment()
        return lines

    def write(self, vals):
        if self.env.context.get("subscription_amendment_done") or not any(
            field in vals for field in self._get_amended_fields()
        ):
            return super().write(vals)
        running = self.filtered(lambda ln: ln.contract_id.state in RUNNING_STATES)
        result = super(SubscriptionContractLine, self - running).write(vals)
        for line in running:
            line._amend(vals)
        return result

    def unlink(self):
        """On a running contract, a line that was in force is ended, not deleted:
        its billed days and its history stay."""
        if self.env.context.get("subscription_amendment_done"):
            return super().unlink()
        running = self.filtered(lambda ln: ln.contract_id.state in RUNNING_STATES)
        to_delete = self - running
        for line in running:
            contract = line.contract_id
            day = contract._get_amendment_date()
            contract._check_amendment_date(day)
            if line._can_change_in_place(day):
                to_delete |= line
            elif not line.date_end or line.date_end >= day:
                line.with_context(subscription_amendment_done=True).write(
                    {"date_end": day - recurrence.ONE_DAY}
                )
            else:
                continue
            contract._log_amendment(
                day,
                [
                    _(
                        "%(product)s removed (was %(quantity)s x %(price)s)",
                        product=line.product_id.display_name,
                        quantity=line.quantity,
                        price=line.currency_id.format(line.price_unit),
                    )
                ],
            )
            contract._flag_amendment()
        return super(SubscriptionContractLine, to_delete).unlink()

    # === BUSINESS METHODS === #

    def _get_start(self):
        self.ensure_one()
        return self.date_start or self.contract_id.date_start

    def _is_open_on(self, day):
        """The line is in force on ``day`` or will be after it."""
        self.ensure_one()
        return not self.date_end or self.date_end >= day

    def _can_change_in_place(self, day):
        """A line that starts on or after ``day`` and has billed nothing can be
        changed (or deleted) without keeping a version of it."""
        self.ensure_one()
        if self._get_start() < day:
            return False
        return (
            not self.env["account.move.line"]
            .sudo()
            .search_count([("subscription_line_id", "=", self.id)], limit=1)
        )

    def _get_amended_fields(self):
        """The fields whose change, on a running contract, applies from the
        amendment date through a new version of the line."""
        return AMENDED_FIELDS

    def _get_amendment_texts(self, field, value):
        """('old', 'new') texts of a change of ``field`` to ``value`` (a field
        added by ``_get_amended_fields``)."""
        return str(self[field]), str(value)

    def _get_amendment_changes(self, vals):
        """Human-readable 'old -> new' of the amended values, for the chatter."""
        self.ensure_one()
        changes = []
        labels = {
            "product_id": _("product"),
            "quantity": _("quantity"),
            "price_unit": _("unit price"),
            "discount": _("discount (%)"),
            "product_uom_id": _("unit"),
            "tax_ids": _("taxes"),
        }
        for field in self._get_amended_fields():
            if field not in vals:
                continue
            old_value = self[field]
            if field not in labels:
                old_text, new_text = self._get_amendment_texts(field, vals[field])
            elif field in ("product_id", "product_uom_id"):
                new_value = self.env[self._fields[field].comodel_name].browse(
                    vals[field]
                )
                old_text, new_text = old_value.display_name, new_value.display_name
            elif field == "tax_ids":
                new_value = self.new({"tax_ids": vals[field]}).tax_ids
                old_text = ", ".join(old_value.mapped("name")) or "-"
                new_text = ", ".join(new_value.mapped("name")) or "-"
            elif field == "price_unit":
                new_value = vals[field]
                old_text = self.currency_id.format(old_value)
                new_text = self.currency_id.format(new_value)
            else:
                new_value = vals[field]
                old_text, new_text = str(old_value), str(new_value)
            if old_text != new_text:
                changes.append(
                    _(
                        "%(product)s: %(field)s %(old)s → %(new)s",
                        product=self.product_id.display_name,
                        field=labels.get(field)
                        or self._fields[field]._description_string(self.env).lower(),
                        old=old_text,
                        new=new_text,
                    )
                )
        return changes

    def _prepare_amended_line_vals(self, vals, day):
        """Values of the version of this line that starts on ``day``."""
        self.ensure_one()
        new_vals = {
            "contract_id": self.contract_id.id,
            "sequence": self.sequence,
            "product_id": self.product_id.id,
            "quantity": self.quantity,
            "discount": self.discount,
            "date_start": day,
            "previous_line_id": self.id,
        }
        if "product_id" not in vals:
            new_vals.update(
                {
                    "name": self.name,
                    "product_uom_id": self.product_uom_id.id,
                    "price_unit": self.price_unit,
                    "tax_ids": [Command.set(self.tax_ids.ids)],
                }
            )
        new_vals.update(vals)
        return new_vals

    def _amend(self, vals):
        """Apply ``vals`` from the amendment date: in place when the line has
        not started by then and billed nothing, else end it the day before and
        continue with a new version."""
        self.ensure_one()
        contract = self.contract_id
        day = contract._get_amendment_date()
        contract._check_amendment_date(day)
        changes = self._get_amendment_changes(vals)
        quiet = self.with_context(subscription_amendment_done=True)
        if self._can_change_in_place(day):
            quiet.write(vals)
        elif not self._is_open_on(day):
            # A line that ended before the change is history: left as it was.
            return True
        else:
            new_vals = self._prepare_amended_line_vals(vals, day)
            quiet.write({"date_end": day - recurrence.ONE_DAY})
            quiet.create(new_vals)
        if changes:
            contract._log_amendment(day, changes)
            contract._flag_amendment()
        return True
