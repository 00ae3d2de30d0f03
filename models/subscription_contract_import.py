import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_date

from ..lib import recurrence
from .ir_fields_converter import prefetch_names
from .subscription_contract import RUNNING_STATES

_logger = logging.getLogger(__name__)

# The column an error of a contract constraint points to, in an import.
IMPORT_CONSTRAINT_FIELDS = {
    "_check_dates": "date_end",
    "_check_currency_journal": "currency_id",
    "_check_consumer_notice_window": "renewal_notice_days",
    "_check_renewal_rule": "renewal_notice_days",
    "_check_billing_interval": "billing_interval",
}


def unique_messages(messages):
    """``messages`` without repeats (a batch retried row by row by Odoo's
    import checks its rows twice)."""
    seen = set()
    result = []
    for message in messages:
        key = (str(message.get("rows")), message.get("field"), message["message"])
        if key not in seen:
            seen.add(key)
            result.append(message)
    return result


def close_import(model, savepoint, result):
    """The end of an import done whole or not at all: the savepoint taken
    before it rolled back (and no ids returned) when any of the messages of
    ``result`` is an error, released otherwise; ``result``."""
    if any(m["type"] == "error" for m in result["messages"]):
        savepoint.rollback()
        result["ids"] = False
        model.pool.reset_changes()
    savepoint.close(rollback=False)
    return result


def failing_field(records, columns):
    """The column of the first constraint ``records`` break: ``columns`` maps
    a constraint method to its column, else its first constrained field."""
    for check in records._constraint_methods:
        try:
            check(records)
        except ValidationError:
            names = check._constrains
            names = names(records) if callable(names) else names
            return columns.get(check.__name__, names[0] if names else None)
    return None


def load_valid_records(load, valid, update, ignore_duplicates, collector):
    """Create the rows ``valid`` (Odoo's ``_load_records``), in one batch if
    they are all right; else row by row, each error in ``collector`` with the
    row and the column of the broken constraint (not the batch's first row, as
    Odoo's import would say). Return the records created."""
    model = load.__self__
    try:
        with model.env.cr.savepoint():
            return load(valid, update, ignore_duplicates)
    except ValidationError:
        _logger.debug("A row of the batch breaks a constraint: row by row")
    records = model.browse()
    for data in valid:
        try:
            with model.env.cr.savepoint():
                records |= load([data], update, ignore_duplicates)
        except ValidationError as error:
            data.pop("record", None)
            collector.append(
                dict(
                    data["info"],
                    type="error",
                    field=getattr(error, "subscription_import_field", None),
                    message=str(error.args[0]),
                )
            )
    return records


def drop_empty_cells(model, values, given=()):
    """An empty cell of an import file reads as False: leave it out where the
    field has a default or is computed (the plan's currency, commitment end,
    the product's price...), so that it means "the usual value", not "none".
    ``given``: the boolean fields whose cell was not empty (an explicit 0 is
    kept: "no tacit renewal"). One2many lines are cleaned the same way."""
    for name in list(values):
        field = model._fields.get(name)
        if field is None:
            continue
        value = values[name]
        if (
            value is False
            and (field.compute or field.default is not None)
            and not (field.type == "boolean" and name in given)
        ):
            del values[name]
        elif field.type == "one2many" and isinstance(value, list):
            comodel = model.env[field.comodel_name]
            for command in value:
                if (
                    isinstance(command, list | tuple)
                    and len(command) == 3
                    and isinstance(command[2], dict)
                ):
                    drop_empty_cells(comodel, command[2])
    return values


class SubscriptionContract(models.Model):
    """Moving in: contracts imported from a spreadsheet or another tool through
    Odoo's import screen, with a guard so that nothing already billed by the
    previous tool is billed again, and a preview of the first billing run."""

    _inherit = "subscription.contract"

    billed_until = fields.Date(
        compute="_compute_billed_until",
        inverse="_inverse_billed_until",
        help="Last day already invoiced (by the previous tool, for an imported "
        "contract): the first invoice bills the period after it. Empty: nothing "
        "billed yet, the contract is billed from its start date.",
    )
    import_catchup_confirmed = fields.Boolean(
        string="Catch-up Confirmed",
        copy=False,
        help="Set on import to accept that the first billing run invoices more "
        "past periods than the company's limit for imported contracts.",
    )

    # === COMPUTE METHODS === #

    @api.depends("next_period_start", "date_start")
    def _compute_billed_until(self):
        for contract in self:
            start = contract.next_period_start
            contract.billed_until = (
                start - recurrence.ONE_DAY
                if start and contract.date_start and start > contract.date_start
                else False
            )

    def _inverse_billed_until(self):
        for contract in self:
            contract.next_period_start = (
                contract.billed_until + recurrence.ONE_DAY
                if contract.billed_until
                else contract.date_start
            )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        # Set-based: the billed date becomes the next period start in the
        # create itself, not one write per contract afterwards.
        vals_list = [dict(vals) for vals in vals_list]
        for vals in vals_list:
            billed_until = vals.pop("billed_until", None)
            if billed_until and not vals.get("next_period_start"):
                vals["next_period_start"] = (
                    fields.Date.to_date(billed_until) + recurrence.ONE_DAY
                )
        return super().create(vals_list)

    @api.model
    def get_import_templates(self):
        lang = (self.env.lang or "en_US")[:2]
        suffix = "fr" if lang == "fr" else "en"
        return [
            {
                "label": _("Import Template for Subscription Contracts (Excel)"),
                "template": f"/subscription_billing/static/xls/"
                f"subscription_contracts_{suffix}.xlsx",
            },
            {
                "label": _("Import Template for Subscription Contracts (CSV)"),
                "template": f"/subscription_billing/static/xls/"
                f"subscription_contracts_{suffix}.csv",
            },
        ]

    @api.model
    def load(self, fields, data):
        """Odoo's import (base_import) ends here: the rows are checked and, in a
        test run, the first billing run is previewed. One error anywhere and
        nothing of the file is written."""
        collector = []
        rows = {}
        savepoint = self.env.cr.savepoint(flush=False)
        result = super(
            SubscriptionContract,
            self.with_context(
                subscription_import_messages=collector,
                subscription_import_rows=rows,
                subscription_import_journals={},
                subscription_import_raw=(fields, data),
                subscription_import_names=prefetch_names(self, fields, data),
                # The lines of an imported contract are its lines from its start,
                # not amendments of a running contract from today.
                subscription_amendment_done=True,
            ),
        ).load(fields, data)
        messages = result["messages"]
        messages.extend(unique_messages(collector))
        if result["ids"] and not any(m["type"] == "error" for m in messages):
            contracts = self.browse(result["ids"])
            if self.env.context.get("subscription_import_dryrun"):
                messages.extend(contracts._import_preview_messages(rows))
        return close_import(self, savepoint, result)

    @api.model
    def _load_records(self, data_list, update=False, ignore_duplicates=False):
        collector = self.env.context.get("subscription_import_messages")
        if collector is None:
            return super()._load_records(data_list, update, ignore_duplicates)
        valid = []
        for data in data_list:
            values = drop_empty_cells(
                self, data["values"], self._import_given_booleans(data["info"])
            )
            if "journal_id" not in values and values.get("plan_id"):
                # One search per plan, not one per contract.
                values["journal_id"] = self._import_default_journal(values["plan_id"])
            if "date_end" not in values:
                end = self._import_current_term_end(values)
                if end:
                    values["date_end"] = end
            field, message = self._import_check_values(values)
            if message:
                collector.append(
                    dict(data["info"], type="error", field=field, message=message)
                )
            else:
                valid.append(data)
        if not valid:
            return self.browse()
        records = load_valid_records(
            super()._load_records, valid, update, ignore_duplicates, collector
        )
        rows = self.env.context.get("subscription_import_rows", {})
        created = set(records.ids)
        # One query for the batch: only a contract whose customer has another
        # running contract on the same plan may be a duplicate, and only such a
        # contract is checked by the register's (per contract) guard.
        groups = self.sudo()._read_group(
            [
                ("commercial_partner_id", "in", records.commercial_partner_id.ids),
                ("state", "in", RUNNING_STATES),
            ],
            ["company_id", "commercial_partner_id", "plan_id"],
            ["__count"],
        )
        running = {
            (company.id, partner.id, plan.id): count
            for company, partner, plan, count in groups
        }
        for data in valid:
            record = data.get("record")
            if not record or record.id not in created:
                continue
            rows[record.id] = data["info"]
            key = (
                record.company_id.id,
                record.commercial_partner_id.id,
                record.plan_id.id,
            )
            field, message = record._import_check_record(
                may_duplicate=running.get(key, 0) > 1
            )
            if message:
                collector.append(
                    dict(data["info"], type="error", field=field, message=message)
                )
        return records

    def _validate_fields(self, field_names, excluded_names=()):
        try:
            return super()._validate_fields(field_names, excluded_names)
        except ValidationError as error:
            if self.env.context.get("subscription_import_messages") is not None:
                error.subscription_import_field = self._import_failing_field()
            raise

    # === BUSINESS METHODS === #

    def _import_failing_field(self):
        return failing_field(self, IMPORT_CONSTRAINT_FIELDS)

    @api.model
    def _import_given_booleans(self, info):
        """The boolean columns of the contract's row that are not empty."""
        fields, data = self.env.context.get("subscription_import_raw", ((), ()))
        row = info.get("rows", {}).get("from")
        if row is None or row >= len(data):
            return set()
        return {
            name
            for name, cell in zip(fields, data[row], strict=False)
            if name in self._fields
            and self._fields[name].type == "boolean"
            and str(cell).strip()
        }

    @api.model
    def _import_default_journal(self, plan_id):
        journals = self.env.context.get("subscription_import_journals")
        if journals is None:
            return self.new({"plan_id": plan_id}).journal_id.id
        if plan_id not in journals:
            journals[plan_id] = self.new({"plan_id": plan_id}).journal_id.id
        return journals[plan_id]

    @api.model
    def _import_current_term_end(self, values):
        """Commitment end of an imported contract that leaves it empty: the
        plan's commitment from the start date, renewed tacitly (as the previous
        tool did) until the term that holds today."""
        plan = self.env["subscription.plan"].browse(values.get("plan_id"))
        start = values.get("date_start")
        if not plan or not start or not plan.commitment_length:
            return None
        end = recurrence.commitment_end(
            fields.Date.to_date(start), plan.commitment_length, plan.commitment_unit
        )
        auto_renew = values.get("auto_renew", plan.auto_renew)
        length = values.get("renewal_length") or plan.renewal_length
        unit = values.get("renewal_unit") or plan.renewal_unit
        if not length:  # renewed for the length of the commitment
            length, unit = plan.commitment_length, plan.commitment_unit
        if not auto_renew:
            return end
        today = self.env.company._subscription_today()
        while end < today:
            end = recurrence.commitment_end(end + recurrence.ONE_DAY, length, unit)
        return end

    @api.model
    def _import_check_values(self, values):
        """(column, message) of what is wrong in an imported row's values
        before it is created, or (None, None)."""
        for name in ("partner_id", "plan_id"):
            if not values.get(name) and not values.get("id"):
                return name, _(
                    "Missing required value for the field '%(field)s' (%(name)s)",
                    field=self._fields[name]._description_string(self.env),
                    name=name,
                )
        start = values.get("date_start")
        end = values.get("date_end")
        if start and end and fields.Date.to_date(end) < fields.Date.to_date(start):
            return "date_end", _(
                "The commitment end (%(end)s) is before the start date (%(start)s).",
                end=end,
                start=start,
            )
        billed = values.get("billed_until")
        if billed and start:
            billed = fields.Date.to_date(billed)
            if billed < fields.Date.to_date(start) - recurrence.ONE_DAY:
                return "billed_until", _(
                    "'Billed Until' (%(billed)s) is before the start date "
                    "(%(start)s): leave it empty when nothing was billed yet.",
                    billed=billed,
                    start=start,
                )
        currency_id = values.get("currency_id")
        plan = self.env["subscription.plan"].browse(values.get("plan_id"))
        if currency_id and plan:
            company = self.env["res.company"].browse(
                values.get("company_id") or self.env.company.id
            )
            expected = plan.journal_id.currency_id or company.currency_id
            if expected.id != currency_id:
                return "currency_id", _(
                    "The prices are in %(currency)s but the invoices of plan "
                    "%(plan)s are made in %(expected)s: convert the prices, or use "
                    "a plan whose journal is in %(currency)s.",
                    currency=self.env["res.currency"].browse(currency_id).name,
                    plan=plan.display_name,
                    expected=expected.name,
                )
        return None, None

    def _import_check_record(self, may_duplicate=True):
        """(column, message) of what forbids the imported contract to run as
        it is, or (None, None): a duplicate, a running contract missing what it
        needs, more past periods to bill than the company accepts."""
        self.ensure_one()
        if self.state in ("active", "suspended"):
            try:
                if may_duplicate:
                    self._check_duplicates()
            except UserError as error:
                return "partner_id", str(error.args[0])
            try:
                self._check_startable()
            except UserError as error:
                field = (
                    "mandate_id"
                    if self.payment_method == "sepa_direct_debit"
                    and self.mandate_id.state != "active"
                    else "line_ids"
                )
                return field, str(error.args[0])
        if self.state not in ("active", "closed"):
            return None, None
        limit = self.company_id.subscription_import_max_catchup
        periods = self._get_due_periods(self._get_today())
        if len(periods) > limit and not self.import_catchup_confirmed:
            return "billed_until", _(
                "The first billing run would invoice %(count)s periods from "
                "%(start)s (more than the %(limit)s the company accepts for an "
                "imported contract). Enter the last day the previous tool billed "
                "in 'Billed Until', or set 'Catch-up Confirmed' if these periods "
                "really are to be billed.",
                count=len(periods),
                start=format_date(self.env, periods[0].start),
                limit=limit,
            )
        return None, None

    def _import_preview(self):
        """[(contract, periods, untaxed, total)] of what the first billing run
        would invoice for these contracts today."""
        result = []
        for contract in self.filtered(lambda c: c.state in ("active", "closed")):
            periods = contract._get_due_periods(contract._get_today())
            untaxed = total = 0.0
            for period in periods:
                period_untaxed, period_total = contract._get_period_amounts(period)
                untaxed += period_untaxed
                total += period_total
            result.append((contract, periods, untaxed, total))
        return result

    def _import_preview_messages(self, rows):
        """Messages of a test import: what the first billing run would make
        (``rows``: the row of each contract in the file)."""
        preview = self._import_preview()
        count = sum(len(periods) for __, periods, __, __ in preview)
        totals = {}
        for contract, periods, untaxed, total in preview:
            if periods:
                amounts = totals.setdefault(contract.currency_id, [0.0, 0.0])
                amounts[0] += untaxed
                amounts[1] += total
        amounts = ", ".join(
            self.env._(
                "%(untaxed)s untaxed (%(total)s taxes included)",
                untaxed=currency.format(untaxed),
                total=currency.format(total),
            )
            for currency, (untaxed, total) in totals.items()
        )
        messages = [
            {
                "type": "info",
                "message": _(
                    "Test only, nothing was imported. %(contracts)s contracts; the "
                    "first billing run would make %(count)s invoices%(amounts)s. "
                    "The other contracts are billed from the period after "
                    "'Billed Until'.",
                    contracts=len(self),
                    count=count,
                    amounts=_(" for %(amounts)s", amounts=amounts) if count else "",
                ),
            }
        ]
        for contract, periods, __, total in preview:
            if len(periods) > 1 and contract.id in rows:
                messages.append(
                    {
                        **rows[contract.id],
                        "type": "warning",
                        "message": _(
                            "%(customer)s: %(count)s past periods billed at once "
                            "(catch-up confirmed), %(total)s taxes included.",
                            customer=contract.partner_id.display_name,
                            count=len(periods),
                            total=contract.currency_id.format(total),
                        ),
                        "field": "billed_until",
                    }
                )
        return messages
