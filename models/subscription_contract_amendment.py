import logging
from datetime import date

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, format_date

from ..lib import amendment, recurrence
from .subscription_contract import RUNNING_STATES

_logger = logging.getLogger(__name__)


class SubscriptionContract(models.Model):
    _inherit = "subscription.contract"

    current_line_ids = fields.One2many(
        "subscription.contract.line",
        "contract_id",
        string="Current Lines",
        domain=[("date_end", "=", False)],
        help="The lines billed from now on: those that have not been given an end.",
    )
    amendment_to_bill = fields.Boolean(
        copy=False,
        readonly=True,
        help="The lines changed during a period already invoiced: the change is "
        "invoiced (or credited) by the next run.",
    )

    # === COMPUTE METHODS === #

    @api.depends(
        "line_ids.price_subtotal",
        "line_ids.price_total",
        "line_ids.date_end",
        "billing_interval",
        "billing_unit",
        "currency_id",
    )
    def _compute_amounts(self):
        """The recurring amount and the MRR count the lines that go on: an ended
        line (or one that ends at a later date) is history."""
        res = super()._compute_amounts()
        for contract in self:
            lines = contract.line_ids.filtered(lambda line: not line.date_end)
            if lines == contract.line_ids:
                continue
            untaxed = sum(lines.mapped("price_subtotal"))
            total = sum(lines.mapped("price_total"))
            currency = contract.currency_id or contract.company_id.currency_id
            contract.recurring_amount_untaxed = currency.round(untaxed)
            contract.recurring_amount_total = currency.round(total)
            contract.recurring_amount_tax = currency.round(total - untaxed)
            contract.mrr = currency.round(untaxed * contract._get_monthly_factor())
        return res

    # === CRUD METHODS === #

    def copy_data(self, default=None):
        """A copy (a new commitment) starts from the lines that go on, not from
        the history of ended lines."""
        default = dict(default or {})
        vals_list = super().copy_data(default)
        if "line_ids" not in default:
            for contract, vals in zip(self, vals_list, strict=True):
                if contract.line_ids.filtered("date_end"):
                    vals["line_ids"] = [
                        fields.Command.create(line_vals)
                        for line_vals in contract.current_line_ids.copy_data()
                    ]
        return vals_list

    def init(self):
        res = super().init()
        self.env.cr.execute(
            SQL(
                """
                CREATE INDEX IF NOT EXISTS subscription_contract_amendment_to_bill_idx
                    ON subscription_contract (id) WHERE amendment_to_bill
                """
            )
        )
        return res

    # === ACTION METHODS === #

    def action_open_amend_wizard(self):
        self.ensure_one()
        self._check_state_for(_("amend"), RUNNING_STATES)
        return {
            "type": "ir.actions.act_window",
            "name": _("Amend Contract"),
            "res_model": "subscription.contract.amend",
            "view_mode": "form",
            "target": "new",
            "context": {"default_contract_id": self.id},
        }

    def action_bill_amendments(self):
        """Invoice (or credit) now the changes made during periods already
        invoiced."""
        self.ensure_one()
        moves = self._bill_amendments(raise_errors=True)
        if not moves:
            raise UserError(
                _(
                    "Contract %(contract)s has no change to invoice: every day of "
                    "its invoiced periods is billed at the values in force.",
                    contract=self.name,
                )
            )
        return self.action_view_invoices()

    def action_preview_next_invoice(self):
        """The preview lists each line and its days, and the amendment still to
        invoice."""
        action = super().action_preview_next_invoice()
        lang = self.env.lang
        period = self._get_period_from(self.next_period_start)
        details = []
        if period:
            segments = self._get_period_segments(period)
            for segment in segments:
                details.append(
                    _(
                        "%(label)s: %(amount)s",
                        label=self._get_segment_label(segment, lang, period),
                        amount=self.currency_id.format(
                            self._get_segments_amounts([segment])[0]
                        ),
                    )
                )
        adjustment = self._get_amendment_segments()
        if adjustment:
            untaxed = self._get_segments_amounts(adjustment)[0]
            details.append(
                _(
                    "Change during the invoiced period, to invoice now: %(amount)s "
                    "untaxed.",
                    amount=self.currency_id.format(untaxed),
                )
            )
        if details:
            action["params"]["message"] += "\n" + "\n".join(details)
        return action

    # === BUSINESS METHODS === #

    def _get_report_lines(self):
        """Lines in force today or to come: the contract as it stands."""
        self.ensure_one()
        return self.line_ids.filtered(lambda line: line.line_status != "ended")

    def _send_amendment_notice(self):
        """Email the customer the lines and the new recurring amount."""
        self._email_customer(
            "subscription_billing.mail_template_amendment",
            "mail.mail_notification_light",
        )

    def _get_monthly_factor(self):
        self.ensure_one()
        if self.billing_interval >= 1 and self.billing_unit:
            return recurrence.monthly_factor(self.billing_interval, self.billing_unit)
        return 0.0

    def _get_amendment_date(self):
        """The day a change takes effect: the one chosen in the Amend wizard,
        else today in the company's time zone."""
        self.ensure_one()
        day = self.env.context.get("subscription_amendment_date")
        return fields.Date.to_date(day) if day else self._get_today()

    def _get_amendment_min_date(self):
        """Earliest day a change may take effect: today, or the first day not
        invoiced yet when it is earlier (a period not billed yet)."""
        self.ensure_one()
        today = self._get_today()
        if self.next_period_start and self.next_period_start < today:
            return max(self.next_period_start, self.date_start)
        return today

    def _check_amendment_date(self, day):
        """A change takes effect today or later, or on a past day of a period
        not invoiced yet; within the contract's dates."""
        self.ensure_one()
        if day < self._get_amendment_min_date():
            raise UserError(
                _(
                    "Contract %(contract)s: a change cannot take effect on "
                    "%(date)s, in a period already invoiced. Choose %(min)s or a "
                    "later date.",
                    contract=self.name,
                    date=format_date(self.env, day),
                    min=format_date(self.env, self._get_amendment_min_date()),
                )
            )
        last_day = self._get_billing_last_day()
        if last_day and day > last_day + recurrence.ONE_DAY:
            raise UserError(
                _(
                    "Contract %(contract)s ends on %(end)s: a change on %(date)s "
                    "would never apply. Renew the contract first.",
                    contract=self.name,
                    end=format_date(self.env, last_day),
                    date=format_date(self.env, day),
                )
            )

    def _log_amendment(self, day, changes):
        """Say in the chatter who changed what, and from when."""
        self.ensure_one()
        if not changes:
            return
        self.message_post(
            body=_(
                "Amendment from %(date)s: %(changes)s. New recurring amount: "
                "%(amount)s untaxed per period.",
                date=format_date(self.env, day),
                changes="; ".join(changes),
                amount=self.currency_id.format(self.recurring_amount_untaxed),
            ),
            subtype_xmlid="mail.mt_note",
        )

    def _flag_amendment(self):
        to_flag = self.filtered(lambda c: not c.amendment_to_bill)
        if to_flag:
            to_flag.sudo().amendment_to_bill = True

    def _get_natural_period(self, day):
        self.ensure_one()
        return recurrence.natural_period(
            self._get_billing_anchor(), day, self.billing_interval, self.billing_unit
        )

    def _get_billed_line_days(self, lines):
        """{(line id, gives back): day ordinals} billed by live invoices; read
        once for a whole billing batch (see ``_prepare_billing``)."""
        real = lines._origin.filtered("id")
        prefetched = self.env.cr.cache.get("subscription_billed_days")
        if prefetched is not None and set(real.ids) <= prefetched[0]:
            return prefetched[1]
        return self.env["account.move.line"]._subscription_billed_days(real)

    def _make_segments(self, line, days, credit=False):
        """Cut ``days`` of ``line`` into segments within one natural period each."""
        return [
            {
                "line": line,
                "start": start,
                "end": end,
                "full_start": full_start,
                "full_end": full_end,
                "credit": credit,
            }
            for start, end, full_start, full_end in amendment.split_by_period(
                days, self._get_natural_period
            )
        ]

    def _get_segment_ratio(self, segment):
        days = (segment["end"] - segment["start"]).days + 1
        paused = recurrence.overlap_days(
            segment["start"], segment["end"], self._get_pause_intervals()
        )
        full_days = (segment["full_end"] - segment["full_start"]).days + 1
        return max(days - paused, 0) / full_days

    def _get_period_segments(self, period, lines=None):
        """Each line's days of ``period`` that no live invoice billed yet."""
        self.ensure_one()
        lines = self.line_ids if lines is None else lines
        billed = self._get_billed_line_days(lines)
        segments = []
        for line in lines:
            days = amendment.line_days(
                line._get_start(), line.date_end, period.start, period.end
            ) - billed.get((line._origin.id, False), set())
            segments += [
                segment
                for segment in self._make_segments(line, days)
                if self._get_segment_ratio(segment)
            ]
        return segments

    def _get_invoiced_period_days(self):
        """Days of the periods invoiced by the live period invoices."""
        self.ensure_one()
        days = set()
        moves = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("subscription_contract_id", "=", self.id),
                    ("subscription_period_start", "!=", False),
                    ("state", "!=", "cancel"),
                ]
            )
        )
        for move in moves:
            days |= amendment.days_between(
                move.subscription_period_start, move.subscription_period_end
            )
        return days

    def _get_amendment_segments(self, lines=None):
        """What the invoiced periods still owe after changes: for each line, the
        days it is in force but was not billed (to invoice), and the days it was
        billed but is no longer in force (to give back)."""
        self.ensure_one()
        lines = self.line_ids if lines is None else lines
        invoiced = self._get_invoiced_period_days()
        if not invoiced:
            return []
        first = min(invoiced)
        last = max(invoiced)
        billed = self._get_billed_line_days(lines)
        segments = []
        for line in lines:
            key = line._origin.id
            due = (
                amendment.line_days(
                    line._get_start(),
                    line.date_end,
                    date.fromordinal(first),
                    date.fromordinal(last),
                )
                & invoiced
            )
            net = billed.get((key, False), set()) - billed.get((key, True), set())
            segments += [
                s
                for s in self._make_segments(line, due - net)
                if self._get_segment_ratio(s)
            ]
            segments += [
                s
                for s in self._make_segments(line, net - due, credit=True)
                if self._get_segment_ratio(s)
            ]
        return segments

    @api.model
    def _same_terms(self, old, new):
        """Two versions of a line that differ only by their quantity."""
        return (
            old.product_id._origin == new.product_id._origin
            and old.product_uom_id._origin == new.product_uom_id._origin
            and old.tax_ids._origin == new.tax_ids._origin
            and not old.currency_id.compare_amounts(old.price_unit, new.price_unit)
            and old.discount == new.discount
        )

    def _merge_segments(self, segments):
        """Give each segment its signed quantity; a quantity change billed over
        the same days becomes one line for the difference ("replaces" keeps the
        key of the days given back by the old version)."""
        credits = {
            (s["line"]._origin.id, s["start"], s["end"]): s
            for s in segments
            if s["credit"]
        }
        merged = []
        used = set()
        for segment in segments:
            if segment["credit"]:
                continue
            line = segment["line"]
            key = (line.previous_line_id._origin.id, segment["start"], segment["end"])
            old = credits.get(key)
            if old and key not in used and self._same_terms(old["line"], line):
                used.add(key)
                merged.append(
                    dict(
                        segment,
                        quantity=line.quantity - old["line"].quantity,
                        replaces=old,
                    )
                )
            else:
                merged.append(dict(segment, quantity=line.quantity))
        merged += [
            dict(segment, quantity=-segment["line"].quantity)
            for key, segment in credits.items()
            if key not in used
        ]
        return merged

    def _get_segments_amounts(self, segments):
        """(untaxed, taxed) of ``segments``, given-back days counted negative,
        computed as the invoice computes them (each line total prorated, then
        rounded)."""
        self.ensure_one()
        tax_model = self.env["account.tax"]
        base_lines = [
            tax_model._prepare_base_line_for_taxes_computation(
                segment["line"],
                price_unit=segment["line"].price_unit
                * self._get_segment_ratio(segment),
                quantity=segment["quantity"],
                discount=segment["line"].discount,
                tax_ids=segment["line"].tax_ids,
                currency_id=self.currency_id,
                product_id=segment["line"].product_id,
                partner_id=self.partner_invoice_id or self.partner_id,
            )
            for segment in self._merge_segments(segments)
        ]
        if not base_lines:
            return 0.0, 0.0
        tax_model._add_tax_details_in_base_lines(base_lines, self.company_id)
        tax_model._round_base_lines_tax_details(base_lines, self.company_id)
        summary = tax_model._get_tax_totals_summary(
            base_lines, self.currency_id, self.company_id
        )
        return summary["base_amount_currency"], summary["total_amount_currency"]

    def _get_segment_label(self, segment, lang, period=None):
        """'Extra machine, 16/03-31/03 (prorated: 16/31 days)' in the customer's
        language for the days of a line that does not run the whole billed
        period; the period label when it does."""
        env = self.with_context(lang=lang).env
        line = segment["line"]
        days = (segment["end"] - segment["start"]).days + 1
        paused = recurrence.overlap_days(
            segment["start"], segment["end"], self._get_pause_intervals()
        )
        full_days = (segment["full_end"] - segment["full_start"]).days + 1
        if (
            period
            and not segment["credit"]
            and (segment["start"], segment["end"]) == (period.start, period.end)
        ):
            label = self._get_period_label(
                period, lang, self._get_segment_ratio(segment)
            )
            return f"{line.name}\n{label}"
        label = env._(
            "%(name)s, %(start)s-%(end)s (prorated: %(days)s/%(full_days)s days)",
            name=line.name,
            start=format_date(
                env, segment["start"], lang_code=lang, date_format="dd/MM"
            ),
            end=format_date(env, segment["end"], lang_code=lang, date_format="dd/MM"),
            days=days - paused,
            full_days=full_days,
        )
        if segment["credit"]:
            label = env._("%(label)s, replaced: given back", label=label)
        return label

    def _prepare_segment_line_vals(self, segment, lang, period=None, sign=1):
        """Invoice lines of a (merged) segment: the contract line's values
        prorated to its days, keyed by (contract line, days) for the day-level
        guarantee; a note line carries the key of the days given back by the
        version it replaces."""
        line = segment["line"]
        fake_period = recurrence.Period(
            segment["start"],
            segment["end"],
            segment["full_start"],
            segment["full_end"],
            period.invoice_date if period else segment["start"],
        )
        env = self.with_context(lang=lang).env
        label = self._get_segment_label(segment, lang, period)
        old = segment.get("replaces")
        if old:
            label = env._(
                "%(label)s, quantity %(old)s → %(new)s",
                label=label,
                old=old["line"].quantity,
                new=line.quantity,
            )
        # The hook bills a line of the segment's (signed) quantity: a version of
        # the contract line in memory, so that the hook's proration applies.
        billed_line = line.new({"quantity": sign * segment["quantity"]}, origin=line)
        vals = self._prepare_invoice_line_vals(
            billed_line, fake_period, self._get_segment_ratio(segment), label
        )
        vals.update(
            {
                "name": label,
                "subscription_line_id": line.id,
                "subscription_date_from": segment["start"],
                "subscription_date_to": segment["end"],
                "subscription_credit": segment["credit"],
            }
        )
        vals_list = [vals]
        if old:
            vals_list.append(
                {
                    "display_type": "line_note",
                    "sequence": line.sequence,
                    "name": env._(
                        "%(product)s: the quantity %(quantity)s invoiced for "
                        "these days is replaced",
                        product=old["line"].product_id.display_name,
                        quantity=old["line"].quantity,
                    ),
                    "subscription_line_id": old["line"].id,
                    "subscription_date_from": old["start"],
                    "subscription_date_to": old["end"],
                    "subscription_credit": True,
                }
            )
        return vals_list

    def _get_invoice_lang(self):
        self.ensure_one()
        return self.partner_invoice_id.lang or self.partner_id.lang or self.env.lang

    def _prepare_invoice_vals(self, period):
        """The period invoice bills each line for the days of the period it is
        in force (and not billed yet), so that a line added, changed or removed
        during the period is billed for its own days."""
        vals = super()._prepare_invoice_vals(period)
        lang = self._get_invoice_lang()
        vals["invoice_line_ids"] = [
            fields.Command.create(line_vals)
            for segment in self._merge_segments(self._get_period_segments(period))
            for line_vals in self._prepare_segment_line_vals(segment, lang, period)
        ]
        return vals

    def _get_period_amounts(self, period):
        self.ensure_one()
        return self._get_segments_amounts(self._get_period_segments(period))

    def _prepare_billing(self, today=None, ahead=False):
        """A period in which no line is in force makes no (empty) invoice."""
        # A contract never invoiced has no billed day: no query for it.
        invoiced = self.filtered("invoice_count").line_ids
        self.env.cr.cache["subscription_billed_days"] = (
            set(self.line_ids.ids),
            self.env["account.move.line"]._subscription_billed_days(invoiced)
            if invoiced
            else {},
        )
        try:
            todo, handled = super()._prepare_billing(today=today, ahead=ahead)
        finally:
            self.env.cr.cache.pop("subscription_billed_days", None)
        return [item for item in todo if item[2].get("invoice_line_ids")], handled

    def _prepare_amendment_invoice_vals(self, segments):
        """Invoice (or credit note) completing the invoiced periods after a
        change; it has no period of its own: its days are on its lines."""
        self.ensure_one()
        untaxed = self._get_segments_amounts(segments)[0]
        refund = untaxed < 0
        sign = -1 if refund else 1
        lang = self._get_invoice_lang()
        today = self._get_today()
        first = min(s["start"] for s in segments)
        vals = self._prepare_invoice_vals(
            recurrence.Period(first, first, first, first, today)
        )
        vals.update(
            {
                "move_type": "out_refund" if refund else "out_invoice",
                "invoice_date": today,
                "subscription_period_start": False,
                "subscription_period_end": False,
                "subscription_amendment": True,
                "invoice_line_ids": [
                    fields.Command.create(line_vals)
                    for segment in sorted(
                        self._merge_segments(segments),
                        key=lambda s: (s["line"].sequence, s["start"], s["credit"]),
                    )
                    for line_vals in self._prepare_segment_line_vals(
                        segment, lang, sign=sign
                    )
                ],
            }
        )
        if refund:
            vals["sepa_mandate_id"] = False
        return vals

    def _prepare_amendment_billing(self):
        """Values of the amendment invoices to create: an increase is invoiced;
        a decrease is credited when the company says so, else waits for the
        next period (and offsets a later increase of the same periods)."""
        todo = []
        for contract in self:
            segments = contract._get_amendment_segments()
            if not segments:
                continue
            untaxed = contract._get_segments_amounts(segments)[0]
            if contract.currency_id.is_zero(untaxed):
                continue
            if untaxed < 0 and not contract.company_id.subscription_credit_decrease:
                continue
            todo.append(contract._prepare_amendment_invoice_vals(segments))
        return todo

    def _bill_amendments(self, raise_errors=False):
        """Invoice the changes made during invoiced periods, exactly once: the
        contract rows are locked, and the (contract line, days) exclusion
        constraint refuses any day billed twice whatever runs beside."""
        contracts = self._lock_for_billing(nowait=raise_errors)
        moves = self.env["account.move"]
        for contract in contracts:
            try:
                with self.env.cr.savepoint():
                    vals_list = contract._prepare_amendment_billing()
                    if vals_list:
                        new_moves = (
                            self.env["account.move"]
                            .with_context(
                                no_new_invoice=True,
                                mail_create_nolog=True,
                                mail_create_nosubscribe=True,
                                mail_notrack=True,
                            )
                            .sudo()
                            .create(vals_list)
                        )
                        if not contract.plan_id.invoice_review:
                            new_moves._post(soft=False)
                        moves |= new_moves
                        for move in new_moves:
                            contract.message_post(
                                body=_(
                                    "Change during an invoiced period: %(move)s.",
                                    move=move._get_html_link(),
                                ),
                                subtype_xmlid="mail.mt_note",
                            )
                    contract.sudo().amendment_to_bill = False
            except Exception as error:  # pylint: disable=broad-except
                if raise_errors:
                    raise
                contract._log_billing_error(error)
        return moves

    @api.model
    def _cron_bill_amendments(self, batch_size=200):
        """Invoice the changes of a bounded batch of contracts; the runner
        commits and calls again while work remains."""
        domain = [("amendment_to_bill", "=", True), ("state", "in", RUNNING_STATES)]
        contracts = self.search(domain, order="id", limit=batch_size)
        contracts._bill_amendments()
        remaining = self.search_count(domain) if len(contracts) == batch_size else 0
        self.env["ir.cron"]._notify_progress(done=len(contracts), remaining=remaining)

    def _renew(self, length=None, unit=None, price_increase=None, today=None):
        """Prices revised at renewal apply from the new term."""
        self.ensure_one()
        day = max(
            self.date_end + recurrence.ONE_DAY if self.date_end else self._get_today(),
            self._get_amendment_min_date(),
        )
        return super(
            SubscriptionContract, self.with_context(subscription_amendment_date=day)
        )._renew(length=length, unit=unit, price_increase=price_increase, today=today)
