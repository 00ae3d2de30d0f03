import uuid
from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from .subscription_contract import RUNNING_STATES


class SubscriptionUsage(models.Model):
    """What a customer used on a metered contract line: one record per event
    (or per batch of events) sent by the integrator, billed once."""

    _name = "subscription.usage"
    _description = "Usage Record of a Metered Contract Line"
    _order = "date desc, id desc"
    _check_company_auto = True

    contract_line_id = fields.Many2one(
        "subscription.contract.line",
        required=True,
        ondelete="restrict",
        domain="[('billing_type', '=', 'metered')]",
    )
    contract_id = fields.Many2one(
        related="contract_line_id.contract_id", store=True, index=True
    )
    company_id = fields.Many2one(
        related="contract_line_id.company_id", store=True, index=True
    )
    product_id = fields.Many2one(related="contract_line_id.product_id")
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    usage_date = fields.Date(
        string="Day",
        readonly=True,
        help="The day of the usage in the company's time zone: the period it is "
        "billed in.",
    )
    quantity = fields.Float(digits="Product Unit of Measure", required=True)
    description = fields.Char()
    idempotency_key = fields.Char(
        required=True,
        copy=False,
        default=lambda self: str(uuid.uuid4()),
        help="Unique per contract line: a record sent again with the same key is "
        "recorded once.",
    )
    invoice_line_id = fields.Many2one(
        "account.move.line",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        help="The invoice line that bills this record (at most one).",
    )
    invoice_id = fields.Many2one(related="invoice_line_id.move_id", string="Invoice")

    _sql_constraints = [
        (
            "idempotency_key_uniq",
            "UNIQUE (contract_line_id, idempotency_key)",
            "A usage record with this key already exists on this contract line.",
        ),
        ("quantity_positive", "CHECK (quantity >= 0)", "A usage cannot be negative."),
    ]

    def init(self):
        # The only index billing reads: the unbilled records of a line by day.
        self.env.cr.execute(
            SQL(
                """
                CREATE INDEX IF NOT EXISTS subscription_usage_unbilled_idx
                    ON subscription_usage (contract_line_id, usage_date)
                    WHERE invoice_line_id IS NULL;
                CREATE INDEX IF NOT EXISTS subscription_usage_line_day_idx
                    ON subscription_usage (contract_line_id, usage_date);
                -- A billed record is released (set free) before it can be billed
                -- by another invoice line: never moved from one line to another.
                CREATE OR REPLACE FUNCTION subscription_usage_no_rebill()
                RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF OLD.invoice_line_id IS NOT NULL
                       AND NEW.invoice_line_id IS NOT NULL
                       AND OLD.invoice_line_id <> NEW.invoice_line_id THEN
                        RAISE EXCEPTION USING
                            MESSAGE = 'usage record ' || OLD.id
                                || ' is already billed by invoice line '
                                || OLD.invoice_line_id,
                            ERRCODE = 'unique_violation';
                    END IF;
                    RETURN NEW;
                END $$;
                DROP TRIGGER IF EXISTS subscription_usage_no_rebill
                    ON subscription_usage;
                -- WHEN: the billing's claim (NULL to a line) calls no function.
                CREATE TRIGGER subscription_usage_no_rebill
                    BEFORE UPDATE OF invoice_line_id ON subscription_usage
                    FOR EACH ROW
                    WHEN (OLD.invoice_line_id IS NOT NULL
                          AND NEW.invoice_line_id IS NOT NULL
                          AND OLD.invoice_line_id <> NEW.invoice_line_id)
                    EXECUTE FUNCTION subscription_usage_no_rebill();
                """
            )
        )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        """Through the ORM (forms, CSV import, Python): checked like the batch
        API; a key sent again is refused here (``record_usage`` skips it)."""
        for vals in vals_list:
            vals.setdefault("date", fields.Datetime.now())
        lines = self.env["subscription.contract.line"].browse(
            {vals.get("contract_line_id") for vals in vals_list}
        )
        rules = self._get_line_rules(lines)
        days = [
            self._to_day(rules, vals.get("contract_line_id"), vals["date"])
            for vals in vals_list
        ]
        line_ids = self._route_to_versions(
            rules, [vals.get("contract_line_id") for vals in vals_list], days
        )
        for vals, line_id, day in zip(vals_list, line_ids, days, strict=True):
            if line_id:
                vals["contract_line_id"] = line_id
            self._check_usage(rules, vals.get("contract_line_id"), day, vals)
            vals["usage_date"] = day
        return super().create(vals_list)

    def write(self, vals):
        if self.filtered("invoice_line_id") and set(vals) & {
            "contract_line_id",
            "date",
            "quantity",
        }:
            raise UserError(_("A usage record already invoiced cannot be changed."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_invoiced(self):
        if self.filtered("invoice_line_id"):
            raise UserError(_("A usage record already invoiced cannot be deleted."))

    # === BATCH API === #

    @api.model
    def record_usage(self, records):
        """Record a batch of usage, idempotently, in two SQL statements.

        ``records``: a list of dicts with ``contract_line_id`` (int),
        ``quantity``, ``idempotency_key`` (str, unique per contract line) and
        optionally ``date`` ('YYYY-MM-DD HH:MM:SS', UTC; default now) and
        ``description``. All the batch is refused, with the reason for each bad
        record, when one is on a closed contract, a fixed line or a day outside
        the line. A key already recorded on its line is skipped: sending the
        same batch twice records it once.

        Returns ``{"created": n, "skipped": m}``. Callable by XML-RPC/JSON-RPC:
        ``execute_kw(db, uid, key, 'subscription.usage', 'record_usage',
        [[{...}, ...]])``.
        """
        self.check_access("create")
        if not records:
            return {"created": 0, "skipped": 0}
        now = fields.Datetime.to_string(fields.Datetime.now())
        line_ids, dates, quantities, keys, descriptions = [], [], [], [], []
        for index, rec in enumerate(records):
            try:
                line_ids.append(int(rec["contract_line_id"]))
                quantities.append(float(rec["quantity"]))
                keys.append(str(rec["idempotency_key"]))
            except (KeyError, TypeError, ValueError):
                raise UserError(
                    _(
                        "Usage record %(index)s: contract_line_id, quantity and "
                        "idempotency_key are required.",
                        index=index + 1,
                    )
                ) from None
            dates.append(rec.get("date") or now)
            descriptions.append(rec.get("description") or None)
        lines = self.env["subscription.contract.line"].browse(set(line_ids))
        lines.check_access("read")
        rules = self._get_line_rules(lines)
        cr = self.env.cr
        # The day of each record in its company's time zone, computed by SQL.
        cr.execute(
            SQL(
                """
                SELECT (v.dt AT TIME ZONE 'UTC'
                        AT TIME ZONE COALESCE(p.tz, 'UTC'))::date
                  FROM unnest(%s::int[], %s::timestamp[]) WITH ORDINALITY
                       AS v(line, dt, n)
                  LEFT JOIN subscription_contract_line l ON l.id = v.line
                  LEFT JOIN res_company c ON c.id = l.company_id
                  LEFT JOIN res_partner p ON p.id = c.partner_id
                 ORDER BY v.n
                """,
                line_ids,
                dates,
            )
        )
        days = [row[0] for row in cr.fetchall()]
        line_ids = self._route_to_versions(rules, line_ids, days)
        errors = []
        for index, (line_id, day, qty) in enumerate(
            zip(line_ids, days, quantities, strict=True)
        ):
            try:
                self._check_usage(rules, line_id, day, {"quantity": qty})
            except (UserError, ValidationError) as error:
                errors.append(f"{index + 1}: {error.args[0]}")
        if errors:
            raise UserError(
                _("No usage recorded:\n%(errors)s", errors="\n".join(errors[:20]))
            )
        self.env.flush_all()
        cr.execute(
            SQL(
                """
                INSERT INTO subscription_usage (
                    contract_line_id, contract_id, company_id, date, usage_date,
                    quantity, description, idempotency_key,
                    create_uid, write_uid, create_date, write_date)
                SELECT v.line, l.contract_id, l.company_id, v.dt, v.day, v.qty,
                       v.descr, v.key, %s, %s, now() at time zone 'UTC',
                       now() at time zone 'UTC'
                  FROM unnest(%s::int[], %s::timestamp[], %s::date[],
                              %s::float8[], %s::varchar[], %s::varchar[])
                       AS v(line, dt, day, qty, descr, key)
                  JOIN subscription_contract_line l ON l.id = v.line
                ON CONFLICT (contract_line_id, idempotency_key) DO NOTHING
                RETURNING id
                """,
                self.env.uid,
                self.env.uid,
                line_ids,
                dates,
                days,
                quantities,
                descriptions,
                keys,
            )
        )
        created = cr.rowcount
        self.invalidate_model()
        return {"created": created, "skipped": len(records) - created}

    # === BUSINESS METHODS === #

    @api.model
    def _get_line_rules(self, lines):
        """{line id: (line, first day, last day)} of the lines, read once."""
        rules = {}
        for line in lines.exists():
            contract = line.contract_id
            last = [d for d in (line.date_end, contract._get_billing_last_day()) if d]
            rules[line.id] = (line, line._get_start(), min(last) if last else None)
        return rules

    @api.model
    def _route_to_versions(self, rules, line_ids, days):
        """The line ids of the records, each moved to the version of its line
        in force on its day: an amended line is a new version of it (see
        ``previous_line_id``), and integrators keep sending usage to the line
        id they know. ``rules`` is completed with the versions used."""
        stray = {
            line_id
            for line_id, day in zip(line_ids, days, strict=True)
            if line_id in rules
            and (
                day < rules[line_id][1]
                or (rules[line_id][2] and day > rules[line_id][2])
            )
        }
        if not stray:
            return line_ids
        self.env["subscription.contract.line"].flush_model(["previous_line_id"])
        self.env.cr.execute(
            SQL(
                """
                WITH RECURSIVE family(root, id) AS (
                    SELECT id, id FROM subscription_contract_line
                     WHERE id = ANY(%s)
                    UNION
                    SELECT f.root, l.id
                      FROM family f
                      JOIN subscription_contract_line cur ON cur.id = f.id
                      JOIN subscription_contract_line l
                        ON l.previous_line_id = cur.id OR l.id = cur.previous_line_id
                )
                SELECT root, id FROM family WHERE root <> id
                """,
                list(stray),
            )
        )
        families = defaultdict(list)
        for root, line_id in self.env.cr.fetchall():
            families[root].append(line_id)
        versions = self.env["subscription.contract.line"].browse(
            {line_id for ids in families.values() for line_id in ids}
        )
        rules.update(self._get_line_rules(versions))
        routed = []
        for line_id, day in zip(line_ids, days, strict=True):
            if line_id in stray:
                for version in families.get(line_id, []):
                    __, first, last = rules[version]
                    if first <= day and (not last or day <= last):
                        line_id = version
                        break
            routed.append(line_id)
        return routed

    @api.model
    def _to_day(self, rules, line_id, value):
        rule = rules.get(line_id)
        tz = rule and rule[0].company_id.partner_id.tz or "UTC"
        return fields.Datetime.context_timestamp(
            self.with_context(tz=tz), fields.Datetime.to_datetime(value)
        ).date()

    @api.model
    def _check_usage(self, rules, line_id, day, vals):
        rule = rules.get(line_id)
        if not rule:
            raise ValidationError(
                _("Contract line %(line)s does not exist.", line=line_id)
            )
        line, first, last = rule
        contract = line.contract_id
        if line.billing_type != "metered":
            raise ValidationError(
                _(
                    "Contract %(contract)s, line %(line)s has a fixed price: usage "
                    "can only be recorded on a metered line.",
                    contract=contract.name,
                    line=line.product_id.display_name,
                )
            )
        if contract.state not in RUNNING_STATES:
            raise ValidationError(
                _(
                    "Contract %(contract)s is %(state)s: usage can only be recorded "
                    "on an active or suspended contract.",
                    contract=contract.name,
                    state=contract._get_state_label(),
                )
            )
        if (vals.get("quantity") or 0.0) < 0:
            raise ValidationError(
                _(
                    "Contract %(contract)s, line %(line)s: a usage cannot be negative.",
                    contract=contract.name,
                    line=line.product_id.display_name,
                )
            )
        if day < first or (last and day > last):
            raise ValidationError(
                _(
                    "Contract %(contract)s, line %(line)s: the usage of %(day)s is "
                    "outside the days the line runs.",
                    contract=contract.name,
                    line=line.product_id.display_name,
                    day=day,
                )
            )
