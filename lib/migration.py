"""Moving in from the neighbours: rows of another tool turned into the rows of
the contracts import template (static/xls/subscription_contracts_en.csv), to
import through Odoo's import screen (Test first). No Odoo import: the scripts
tools/import_from_stripe.py and tools/import_from_oca_contract.py use it.

The key of every conversion is 'Billed Until', the last day the previous tool
invoiced: the first invoice in Odoo bills the day after, never a day before.
"""

import csv
import io
import sys
from datetime import date, datetime, timedelta

CONTRACT_COLUMNS = [
    "Customer",
    "Plan",
    "Start Date",
    "Commitment End",
    "Billed Until",
    "Status",
    "Payment Method",
    "Tacit Renewal",
    "Lines/Product",
    "Lines/Quantity",
    "Lines/Unit Price",
    "Lines/Discount (%)",
]

# The columns of the mandates' import template (static/xls).
MANDATE_COLUMNS = [
    "Mandate Reference",
    "Debtor",
    "Debtor IBAN",
    "Debtor BIC",
    "Signature Date",
    "Scheme",
    "State",
    "Already Used",
    "Last Collection (Previous Tool)",
]

# The options Odoo's import screen (base_import.import) is called with for a
# CSV file whose first line holds the column names, dates as YYYY-MM-DD.
IMPORT_OPTIONS = {
    "has_headers": True,
    "advanced": True,
    "keep_matches": False,
    "separator": ",",
    "quoting": '"',
    "encoding": "utf-8",
    "date_format": "%Y-%m-%d",
    "datetime_format": "",
    "float_thousand_separator": ",",
    "float_decimal_separator": ".",
    "name_create_enabled_fields": {},
    "import_set_empty_fields": [],
    "import_skip_records": [],
    "fallback_values": {},
    "skip": 0,
    "limit": 2000,
    "sheet": "",
    "sheets": [],
}

# OCA contract's recurrence -> a key of the plan mapping: (unit, interval).
OCA_UNITS = {
    "daily": ("day", 1),
    "weekly": ("week", 1),
    "monthly": ("month", 1),
    "monthlylastday": ("month", 1),
    "quarterly": ("month", 3),
    "semesterly": ("month", 6),
    "yearly": ("year", 1),
}


class MigrationError(ValueError):
    """A row that cannot be converted: the message says which and why."""


def to_date(value):
    """A date from 'YYYY-MM-DD', an ISO datetime or a Stripe 'YYYY-MM-DD
    HH:MM' (UTC); None when empty."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text[: len(fmt) + 2], fmt).date()
        except ValueError:
            continue
    raise MigrationError(f"{value!r} is not a date (YYYY-MM-DD)")


def plan_key(unit, interval):
    """'month:1', 'month:3', 'year:1'... the keys of a plan mapping."""
    return f"{unit}:{int(interval or 1)}"


def plan_for(plans, unit, interval, where):
    key = plan_key(unit, interval)
    if key not in plans:
        raise MigrationError(
            f"{where}: no Odoo plan given for billing every {key.replace(':', ' x ')}"
            f" (add --plan {key}=<plan name>)"
        )
    return plans[key]


def write_csv(rows, stream=None):
    """The rows under the template's header, as CSV text (or into stream)."""
    out = stream or io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CONTRACT_COLUMNS)
    writer.writerows(rows)
    return out.getvalue() if stream is None else None


def to_csv(header, rows):
    """header and rows as the bytes of a CSV file."""
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(header)
    writer.writerows(rows)
    return stream.getvalue().encode()


def write_rows(convert, output):
    """The end of the tools/import_from_*.py scripts: the rows of
    ``convert()`` written under the template's header to the file ``output``
    ('-': standard output); the script's exit code (1 and the message of a
    MigrationError on standard error)."""
    try:
        rows = convert()
    except MigrationError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    if output == "-":
        write_csv(rows, sys.stdout)
    else:
        with open(output, "w", newline="", encoding="utf-8") as out:
            write_csv(rows, out)
    sys.stderr.write(f"{len(rows)} rows written\n")
    return 0


def _amount(value, cents):
    amount = float(str(value or 0).replace(",", ""))
    return round(amount / 100.0, 2) if cents else amount


def stripe_rows(
    records, plans, products=None, payment_method="Bank transfer", amount_in_cents=False
):
    """Contract rows from a Stripe subscriptions CSV export (dashboard export:
    one row per subscription item). ``plans`` maps 'month:1' / 'year:1' to
    an Odoo plan name; ``products`` a Stripe product (or plan) name to an Odoo
    product name (default: the same name). Canceled subscriptions are left
    out; 'Cancel At Period End' ends the contract with its current period.

    Stripe's current period ends (exclusive) on 'Current Period End': the
    previous tool billed until the day before."""
    products = products or {}
    rows = []
    last_id = None
    for number, record in enumerate(records, start=2):
        where = f"Stripe row {number}"
        status = (record.get("Status") or "").strip().lower()
        if status in ("canceled", "incomplete_expired", "ended"):
            continue
        email = (record.get("Customer Email") or "").strip()
        if not email:
            raise MigrationError(f"{where}: no customer email")
        interval = (record.get("Interval") or "month").strip().lower()
        count = record.get("Interval Count") or 1
        plan = plan_for(plans, interval, count, where)
        product = (record.get("Product") or record.get("Plan") or "").strip()
        period_end = to_date(
            record.get("Current Period End (UTC)") or record.get("Current Period End")
        )
        if not period_end:
            raise MigrationError(f"{where}: no current period end")
        billed_until = period_end - timedelta(days=1)
        start = to_date(
            record.get("Start Date (UTC)")
            or record.get("Start (UTC)")
            or record.get("Created (UTC)")
        )
        cancel = (record.get("Cancel At Period End") or "").strip().lower()
        ends = cancel in ("true", "1", "yes")
        line = [
            products.get(product, product),
            record.get("Quantity") or "1",
            _amount(record.get("Amount"), amount_in_cents),
            "0",
        ]
        subscription = record.get("id") or record.get("Subscription ID")
        if subscription and subscription == last_id:
            rows.append([""] * (len(CONTRACT_COLUMNS) - 4) + line)
            continue
        last_id = subscription
        rows.append(
            [
                email,
                plan,
                (start or billed_until).isoformat(),
                billed_until.isoformat() if ends else "",
                billed_until.isoformat(),
                "Active",
                payment_method,
                "0" if ends else "",
                *line,
            ]
        )
    return rows


def oca_contract_rows(contracts, lines, plans, customer_key="ref"):
    """Contract rows from OCA ``contract`` (contract.contract and
    contract.line rows as dicts of their columns, partner and product given
    by name or reference). Sale contracts only; canceled and ended lines left
    out. 'Billed Until' is the lines' latest ``last_date_invoiced`` (nothing
    billed twice); lines invoiced up to different dates are refused, to be
    aligned in OCA first (or split into two contracts)."""
    by_contract = {}
    for line in lines:
        by_contract.setdefault(str(line["contract_id"]), []).append(line)
    rows = []
    for contract in contracts:
        where = f"OCA contract {contract.get('code') or contract.get('name')}"
        if contract.get("contract_type", "sale") != "sale":
            continue
        if str(contract.get("active", "True")).lower() in ("false", "0"):
            continue
        live = [
            line
            for line in by_contract.get(str(contract["id"]), [])
            if not _true(line.get("is_canceled"))
            and not line.get("display_type")
            and not (
                to_date(line.get("date_end"))
                and to_date(line.get("last_date_invoiced"))
                and to_date(line["last_date_invoiced"]) >= to_date(line["date_end"])
            )
        ]
        if not live:
            continue
        source = contract if not _true(contract.get("line_recurrence")) else live[0]
        unit, factor = OCA_UNITS[source.get("recurring_rule_type") or "monthly"]
        interval = int(source.get("recurring_interval") or 1) * factor
        plan = plan_for(plans, unit, interval, where)
        invoiced = {to_date(line.get("last_date_invoiced")) for line in live}
        if len(invoiced) > 1:
            dates = ", ".join(sorted(str(d) for d in invoiced))
            raise MigrationError(
                f"{where}: its lines are invoiced up to different dates ({dates}); "
                "align them in OCA contract (or split the contract) first"
            )
        billed_until = invoiced.pop()
        start = min(to_date(line.get("date_start")) for line in live)
        ends = [to_date(line.get("date_end")) for line in live]
        end = max(ends) if all(ends) else None
        customer = contract.get(f"partner_{customer_key}") or contract["partner"]
        for index, line in enumerate(live):
            price = (
                ""
                if _true(line.get("automatic_price"))
                else line.get("specific_price", line.get("price_unit", ""))
            )
            values = [
                line["product"],
                line.get("quantity") or "1",
                price,
                line.get("discount") or "0",
            ]
            if index:
                rows.append([""] * (len(CONTRACT_COLUMNS) - 4) + values)
                continue
            rows.append(
                [
                    customer,
                    plan,
                    start.isoformat(),
                    end.isoformat() if end else "",
                    billed_until.isoformat() if billed_until else "",
                    "Active",
                    "Bank transfer",
                    "0" if end else "",
                    *values,
                ]
            )
    return rows


def _true(value):
    return str(value).strip().lower() in ("true", "t", "1", "yes")
