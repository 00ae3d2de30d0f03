"""Billing of metered lines: the usage of each period is billed in arrears on
the first invoice made after the period ends (with the next fixed period when
the fixed lines are billed in advance), aggregated in SQL and claimed with one
UPDATE, so that every usage record is billed exactly once."""

from collections import defaultdict

import psycopg2

from odoo import _, api, fields, models
from odoo.tools import SQL, format_date, formatLang

from ..lib import amendment, recurrence, usage


class SubscriptionContract(models.Model):
    _inherit = "subscription.contract"

    # === ACTION METHODS === #

    def action_preview_next_invoice(self):
        """The preview also says what the current period's usage costs so far."""
        action = super().action_preview_next_invoice()
        details = []
        for line in self.line_ids.filtered(
            lambda ln: ln.billing_type == "metered" and ln.line_status != "ended"
        ):
            qty, amount = self._get_current_usage(line)
            details.append(
                _(
                    "%(line)s: %(qty)s used this period so far (%(included)s "
                    "included), %(amount)s untaxed, invoiced after the period ends.",
                    line=line.product_id.display_name,
                    qty=formatLang(self.env, qty, digits=2),
                    included=formatLang(self.env, line.included_quantity, digits=2),
                    amount=self.currency_id.format(amount),
                )
            )
        if details:
            action["params"]["message"] += "\n" + "\n".join(details)
        return action

    # === BUSINESS METHODS === #

    def _get_period_segments(self, period, lines=None):
        """Fixed lines only: metered lines are billed from their usage."""
        lines = self.line_ids if lines is None else lines
        return super()._get_period_segments(
            period, lines.filtered(lambda line: line.billing_type != "metered")
        )

    def _get_amendment_segments(self, lines=None):
        lines = self.line_ids if lines is None else lines
        return super()._get_amendment_segments(
            lines.filtered(lambda line: line.billing_type != "metered")
        )

    def _get_current_usage(self, line):
        """(quantity, untaxed amount) of the usage of ``line`` in the period
        running today."""
        self.ensure_one()
        today = self._get_today()
        full_start, full_end = self._get_natural_period(today)
        last = [d for d in (line.date_end, self._get_billing_last_day()) if d]
        start = max(full_start, line._get_start())
        end = min([full_end, *last])
        if end < start:
            return 0.0, 0.0
        self.env["subscription.usage"].flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT COALESCE(SUM(quantity), 0) FROM subscription_usage "
                "WHERE contract_line_id = %s AND usage_date BETWEEN %s AND %s",
                line.id,
                start,
                end,
            )
        )
        qty = self.env.cr.fetchone()[0]
        segment = {
            "start": start,
            "end": end,
            "full_start": full_start,
            "full_end": full_end,
        }
        charge = line._get_usage_charge(qty, self._get_segment_ratio(segment))
        return qty, float(
            charge.total(self.currency_id.decimal_places, discount=line.discount)
        )

    @api.model
    def _read_unbilled_usage(self, lines):
        """{line id: {day: (quantity, records)}} of the usage not billed yet,
        aggregated by SQL in one query for a batch of lines."""
        result = defaultdict(dict)
        if not lines:
            return result
        self.env["subscription.usage"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT contract_line_id, usage_date, SUM(quantity), COUNT(*)
                  FROM subscription_usage
                 WHERE contract_line_id = ANY(%s) AND invoice_line_id IS NULL
                 GROUP BY contract_line_id, usage_date
                """,
                lines.ids,
            )
        )
        for line_id, day, qty, count in self.env.cr.fetchall():
            result[line_id][day] = (qty, count)
        return result

    def _get_unbilled_usage(self, lines):
        prefetched = self.env.cr.cache.get("subscription_usage_unbilled")
        if prefetched is not None and set(lines.ids) <= prefetched[0]:
            return prefetched[1]
        return self._read_unbilled_usage(lines)

    def _prepare_billing(self, today=None, ahead=False):
        """Read the unbilled usage of the whole batch in one query; a usage
        period goes on one invoice of the batch only (the first one)."""
        metered = self.line_ids.filtered(lambda line: line.billing_type == "metered")
        cache = self.env.cr.cache
        cache["subscription_usage_unbilled"] = (
            set(metered.ids),
            self._read_unbilled_usage(metered),
        )
        cache["subscription_usage_planned"] = set()
        cache["subscription_usage_tiers"] = metered._read_tiers()
        try:
            return super()._prepare_billing(today=today, ahead=ahead)
        finally:
            cache.pop("subscription_usage_unbilled", None)
            cache.pop("subscription_usage_planned", None)
            cache.pop("subscription_usage_tiers", None)

    def _get_usage_buckets(self, cutoff):
        """The usage to bill on an invoice made on ``cutoff``: for each metered
        line, each period ended before ``cutoff`` not billed yet (its usage,
        allowance and minimum), and the usage recorded after its period was
        billed (``late``)."""
        self.ensure_one()
        metered = self.line_ids.filtered(lambda line: line.billing_type == "metered")
        if not metered:
            return []
        unbilled = self._get_unbilled_usage(metered)
        billed = self._get_billed_line_days(metered)
        planned = self.env.cr.cache.get("subscription_usage_planned")
        planned = set() if planned is None else planned
        last_day = self._get_billing_last_day()
        buckets = []
        late_keys = []
        for line in metered:
            start = line._get_start()
            end = min(
                d for d in (line.date_end, last_day, cutoff - recurrence.ONE_DAY) if d
            )
            done = billed.get((line.id, False), set())
            records = unbilled.get(line.id, {})
            stop = min([d for d in (line.date_end, last_day) if d], default=None)
            for segment in self._make_segments(
                line, amendment.days_between(start, end) - done
            ):
                key = (line.id, segment["full_start"], False)
                # A period is billed once over; or once the line or the
                # contract has stopped in it (its last days, closed or ended).
                over = segment["full_end"] < cutoff or segment["end"] == stop
                if not over or key in planned:
                    continue
                used = count = 0
                for day, (qty, n) in records.items():
                    if segment["start"] <= day <= segment["end"]:
                        used += qty
                        count += n
                if not count and not self._get_segment_ratio(segment):
                    continue  # wholly suspended, nothing used
                planned.add(key)
                buckets.append(dict(segment, used=used, count=count, late=False))
            late = defaultdict(lambda: [0, 0, []])
            for day, (qty, n) in records.items():
                if day < cutoff and day.toordinal() in done:
                    bucket = late[self._get_natural_period(day)]
                    bucket[0] += qty
                    bucket[1] += n
                    bucket[2].append(day)
            for (full_start, full_end), (used, count, days) in sorted(late.items()):
                key = (line.id, full_start, True)
                if key in planned:
                    continue
                planned.add(key)
                late_keys.append((line.id, full_start, full_end))
                buckets.append(
                    {
                        "line": line,
                        "start": max(full_start, start),
                        "end": min(
                            [full_end, *[d for d in (line.date_end, last_day) if d]]
                        ),
                        "full_start": full_start,
                        "full_end": full_end,
                        "credit": False,
                        "used": used,
                        "count": count,
                        "late": True,
                        "days": sorted(days),
                    }
                )
        if late_keys:
            previous = self._read_billed_usage(late_keys)
            for bucket in buckets:
                if bucket["late"]:
                    bucket["previous"] = previous.get(
                        (bucket["line"].id, bucket["full_start"]), 0.0
                    )
        return buckets

    @api.model
    def _read_billed_usage(self, keys):
        """{(line id, period start): quantity billed} for (line id, start, end)
        periods."""
        line_ids, starts, ends = zip(*keys, strict=True)
        self.env.cr.execute(
            SQL(
                """
                SELECT v.line, v.s, SUM(u.quantity)
                  FROM unnest(%s::int[], %s::date[], %s::date[]) AS v(line, s, e)
                  JOIN subscription_usage u
                    ON u.contract_line_id = v.line
                   AND u.usage_date BETWEEN v.s AND v.e
                 WHERE u.invoice_line_id IS NOT NULL
                 GROUP BY v.line, v.s
                """,
                list(line_ids),
                list(starts),
                list(ends),
            )
        )
        return {(line, start): qty for line, start, qty in self.env.cr.fetchall()}

    def _prepare_invoice_vals(self, period):
        vals = super()._prepare_invoice_vals(period)
        lang = self._get_invoice_lang()
        vals["invoice_line_ids"] += [
            fields.Command.create(line_vals)
            for bucket in self._get_usage_buckets(period.invoice_date)
            for line_vals in self._prepare_usage_line_vals(bucket, lang)
        ]
        return vals

    def _get_usage_header(self, bucket, charge, lang):
        env = self.with_context(lang=lang).env
        line = bucket["line"]
        uom = line.product_uom_id.with_context(lang=lang).name or ""

        def num(value):
            return formatLang(env, float(value), digits=2)

        def day(value):
            return format_date(env, value, lang_code=lang)

        if bucket["late"]:
            return env._(
                "Usage recorded late for the period from %(start)s to %(end)s, "
                "dated %(dates)s: %(used)s %(uom)s (%(previous)s %(uom)s invoiced "
                "before, %(included)s included)",
                start=day(bucket["full_start"]),
                end=day(bucket["full_end"]),
                dates=", ".join(day(d) for d in bucket["days"][:10])
                + ("..." if len(bucket["days"]) > 10 else ""),
                used=num(bucket["used"]),
                previous=num(bucket.get("previous", 0.0)),
                included=num(charge.included),
                uom=uom,
            )
        header = env._(
            "Usage from %(start)s to %(end)s: %(used)s %(uom)s used, %(included)s "
            "included, %(billable)s billable",
            start=day(bucket["start"]),
            end=day(bucket["end"]),
            used=num(bucket["used"]),
            included=num(charge.included),
            billable=num(charge.billable),
            uom=uom,
        )
        full_days = (bucket["full_end"] - bucket["full_start"]).days + 1
        days = round(self._get_segment_ratio(bucket) * full_days)
        if days != full_days:
            header = env._(
                "%(label)s (allowance and minimum prorated: %(days)s/%(full_days)s "
                "days)",
                label=header,
                days=days,
                full_days=full_days,
            )
        return header

    def _get_tier_label(self, line, tier, quantity, lang):
        env = self.with_context(lang=lang).env
        tiers = line._get_tiers()
        if quantity < 0:
            return env._("Given back: units invoiced before at this price")
        if tier is None:
            if tiers:
                return env._(
                    "Units above %(limit)s billable units",
                    limit=formatLang(env, tiers[-1][0], digits=2),
                )
            return env._("Billable units")
        lower = tiers[tier - 1][0] if tier else 0
        upper = tiers[tier][0]
        if line.tier_mode == "volume":
            return env._(
                "Tier %(tier)s (volume, from %(lower)s to %(upper)s billable "
                "units): every unit at this price",
                tier=tier + 1,
                lower=formatLang(env, lower, digits=2),
                upper=formatLang(env, upper, digits=2) if upper else "∞",
            )
        if upper is None:
            return env._(
                "Tier %(tier)s: billable units above %(lower)s",
                tier=tier + 1,
                lower=formatLang(env, lower, digits=2),
            )
        return env._(
            "Tier %(tier)s: billable units %(lower)s to %(upper)s",
            tier=tier + 1,
            lower=formatLang(env, lower, digits=2),
            upper=formatLang(env, upper, digits=2),
        )

    def _prepare_usage_line_vals(self, bucket, lang):
        """Invoice lines of one period of usage: one line per tier (quantity x
        tier price is exactly the line total), then the top-up to the minimum;
        the first line carries the usage records and the billed days."""
        line = bucket["line"]
        env = self.with_context(lang=lang).env
        ratio = self._get_segment_ratio(bucket)
        previous = bucket.get("previous", 0.0)
        charge = line._get_usage_charge(previous + bucket["used"], ratio)
        if bucket["late"]:
            before = line._get_usage_charge(previous, ratio)
            pieces, topup = usage.late_pieces(before, charge)
        else:
            pieces, topup = charge.pieces, charge.minimum_topup
        header = f"{line.name}\n{self._get_usage_header(bucket, charge, lang)}"
        common = {
            "display_type": "product",
            "sequence": line.sequence,
            "product_id": line.product_id.id,
            "product_uom_id": line.product_uom_id.id,
            # The line's discount applies to all it bills, the minimum too.
            "discount": line.discount,
            "tax_ids": [fields.Command.set(line.tax_ids.ids)],
            "subscription_usage_line_id": line.id,
            "subscription_usage_start": bucket["start"],
            "subscription_usage_end": bucket["end"],
            "subscription_usage_late": bucket["late"],
        }
        vals_list = [
            dict(
                common,
                name=f"{header}\n{self._get_tier_label(line, tier, qty, lang)}",
                quantity=float(qty),
                price_unit=float(price),
            )
            for tier, qty, price in pieces
        ]
        if topup:
            vals_list.append(
                dict(
                    common,
                    name=env._(
                        "%(header)s\nMinimum charge for the period: %(minimum)s",
                        header=header,
                        minimum=self.currency_id.format(float(charge.minimum)),
                    ),
                    quantity=1.0,
                    price_unit=float(topup),
                )
            )
        if not vals_list:
            vals_list.append(
                dict(
                    common,
                    name=env._(
                        "%(header)s\nNothing to pay beyond the allowance",
                        header=header,
                    ),
                    quantity=0.0,
                    price_unit=line.price_unit,
                )
            )
        head = vals_list[0]
        head.update(
            {
                "subscription_usage_head": True,
                "subscription_usage_used": bucket["used"],
                "subscription_usage_count": bucket["count"],
            }
        )
        if not bucket["late"]:
            # The days of the metered line billed once (exclusion constraint).
            head.update(
                {
                    "subscription_line_id": line.id,
                    "subscription_date_from": bucket["start"],
                    "subscription_date_to": bucket["end"],
                }
            )
        return vals_list

    def _bill_final_usage(self, today=None):
        """Invoice the usage that no period invoice will bill: that of the last
        days of a contract with nothing left to bill (closed, or at the end of
        its term), on an invoice of its own, exactly once."""
        moves = self.env["account.move"]
        for contract in self._lock_for_billing():
            day = today or contract._get_today()
            if contract._get_period_from(contract.next_period_start):
                continue  # a period invoice is still to come: it bills it
            last = contract._get_billing_last_day() or day
            period = recurrence.Period(last, last, last, last, day)
            vals = contract._prepare_invoice_vals(period)
            if not any(
                command[2].get("subscription_usage_line_id")
                for command in vals["invoice_line_ids"]
            ):
                continue
            vals.update(
                {
                    "subscription_period_start": False,
                    "subscription_period_end": False,
                    "invoice_line_ids": [
                        command
                        for command in vals["invoice_line_ids"]
                        if command[2].get("subscription_usage_line_id")
                    ],
                }
            )
            moves |= contract._create_invoices([(contract, period, vals)], {})
        return moves

    @api.model
    def _cron_bill_final_usage(self, batch_size=200):
        """Daily: the usage of contracts that have no period left to bill, and
        the minimum of their last days when nothing was used then (looked for
        during 60 days after the last day)."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM (
                    SELECT c.id
                      FROM subscription_usage u
                      JOIN subscription_contract c ON c.id = u.contract_id
                     WHERE u.invoice_line_id IS NULL
                       AND c.next_invoice_date IS NULL
                       AND c.state IN ('active', 'closed')
                    UNION
                    SELECT c.id
                      FROM subscription_contract c
                      JOIN subscription_contract_line l ON l.contract_id = c.id
                     WHERE c.next_invoice_date IS NULL
                       AND c.state IN ('active', 'closed')
                       AND l.billing_type = 'metered'
                       AND l.minimum_amount > 0
                       AND LEAST(l.date_end, c.close_date, c.date_end)
                           >= GREATEST(COALESCE(l.date_start, c.date_start),
                                       %s::date - 60)
                       AND NOT EXISTS (
                           SELECT 1
                             FROM account_move_line aml
                             JOIN account_move m ON m.id = aml.move_id
                            WHERE aml.subscription_line_id = l.id
                              AND m.state != 'cancel'
                              AND aml.subscription_date_to
                                  >= LEAST(l.date_end, c.close_date, c.date_end))
                ) AS todo
                 ORDER BY id
                 LIMIT %s
                """,
                self.env.company._subscription_today(),
                batch_size + 1,
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        contracts = self.browse(ids[:batch_size])
        done = self.browse()
        for contract in contracts:
            try:
                with self.env.cr.savepoint():
                    contract._bill_final_usage()
                    done |= contract
            except Exception as error:  # pylint: disable=broad-except
                contract._log_billing_error(error)
        self.env["ir.cron"]._notify_progress(
            done=len(contracts), remaining=max(len(ids) - batch_size, 0)
        )
        return done

    def _create_invoices(self, todo, handled):
        moves = super()._create_invoices(todo, handled)
        moves._claim_usage()
        return moves


class AccountMove(models.Model):
    _inherit = "account.move"

    def _claim_usage(self):
        """Link the usage records to the invoice lines that bill them, in one
        UPDATE of the records no invoice line holds; the records claimed must be
        those counted when the invoices were prepared, or nothing is billed."""
        heads = self.line_ids.filtered("subscription_usage_head")
        if not heads:
            return
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                UPDATE subscription_usage u SET invoice_line_id = v.aml
                  FROM unnest(%s::int[], %s::int[], %s::date[], %s::date[])
                       AS v(aml, line, s, e)
                 WHERE u.contract_line_id = v.line
                   AND u.usage_date BETWEEN v.s AND v.e
                   AND u.invoice_line_id IS NULL
                RETURNING v.aml, u.quantity
                """,
                heads.ids,
                [h.subscription_usage_line_id.id for h in heads],
                [h.subscription_usage_start for h in heads],
                [h.subscription_usage_end for h in heads],
            )
        )
        claimed = defaultdict(lambda: [0.0, 0])
        for aml, qty in self.env.cr.fetchall():
            claimed[aml][0] += qty
            claimed[aml][1] += 1
        for head in heads:
            qty, count = claimed.get(head.id, (0.0, 0))
            if count != head.subscription_usage_count or (
                abs(qty - head.subscription_usage_used) > 1e-6
            ):
                # Another transaction billed or set free these records: a
                # concurrency error, left for the next call of the cron.
                raise psycopg2.errors.SerializationFailure(
                    f"usage of contract line {head.subscription_usage_line_id.id} "
                    "changed while it was being invoiced"
                )
        self.env["subscription.usage"].invalidate_model()
