import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from lib import migration

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]
PLANS = {"month:1": "Monthly", "month:3": "Quarterly", "year:1": "Yearly"}


def rows_of(text):
    return list(csv.reader(io.StringIO(text)))


def read(name):
    with open(DATA / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_stripe_billed_until_is_the_day_before_the_period_end():
    rows = migration.stripe_rows(read("stripe_subscriptions.csv"), PLANS)
    assert [row[0] for row in rows] == [
        "compta@martin.example",
        "",
        "julie@petit.example",
    ]  # the canceled one is left out; two items = one contract, two lines
    martin, hosting, julie = rows
    assert martin[1:8] == [
        "Monthly",
        "2025-06-15",
        "",
        "2027-03-14",
        "Active",
        "Bank transfer",
        "",
    ]
    assert martin[8:] == ["Maintenance", "2", 40.95, "0"]
    assert hosting[8:] == ["Hosting", "1", 30.0, "0"]
    # Cancel at period end: the contract ends with its paid year, no renewal.
    assert julie[1:8] == [
        "Yearly",
        "2026-01-01",
        "2027-12-31",
        "2027-12-31",
        "Active",
        "Bank transfer",
        "0",
    ]


def test_stripe_amount_in_cents_and_missing_plan():
    records = read("stripe_subscriptions.csv")[:1]
    records[0]["Amount"] = "4095"
    rows = migration.stripe_rows(records, PLANS, amount_in_cents=True)
    assert rows[0][10] == 40.95
    with pytest.raises(migration.MigrationError, match="--plan month:1="):
        migration.stripe_rows(records, {"year:1": "Yearly"})


def test_oca_contract_billed_until_is_last_date_invoiced():
    rows = migration.oca_contract_rows(
        read("oca_contract_contract.csv"), read("oca_contract_line.csv"), PLANS
    )
    # The purchase contract and the canceled line are left out.
    assert len(rows) == 3
    martin, hosting, dupont = rows
    assert martin[:8] == [
        "C-0042",
        "Monthly",
        "2025-01-01",
        "",
        "2027-02-28",
        "Active",
        "Bank transfer",
        "",
    ]
    assert martin[8:] == ["Maintenance", "2", "45.5", "10"]
    assert hosting[:8] == [""] * 8
    assert hosting[8:] == ["Hosting", "1", "", "0"]  # automatic price: Odoo's
    # Recurrence on the line (line_recurrence): quarterly; customer without
    # reference: its VAT number is asked for with --customer-key vat.
    assert dupont[1:5] == ["Quarterly", "2026-07-01", "2027-06-30", "2027-03-31"]


def test_oca_contract_lines_invoiced_to_different_dates_are_refused():
    lines = read("oca_contract_line.csv")
    lines[1]["last_date_invoiced"] = "2027-01-31"
    with pytest.raises(migration.MigrationError, match="OCA-001.*different dates"):
        migration.oca_contract_rows(read("oca_contract_contract.csv"), lines, PLANS)


@pytest.mark.parametrize(
    "script, args",
    [
        ("import_from_stripe.py", [str(DATA / "stripe_subscriptions.csv")]),
        (
            "import_from_oca_contract.py",
            [
                "--contracts",
                str(DATA / "oca_contract_contract.csv"),
                "--lines",
                str(DATA / "oca_contract_line.csv"),
            ],
        ),
    ],
)
def test_scripts_write_the_import_template(script, args):
    plans = [arg for key, name in PLANS.items() for arg in ("--plan", f"{key}={name}")]
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / script), *args, *plans],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    rows = rows_of(result.stdout)
    assert rows[0] == migration.CONTRACT_COLUMNS
    assert len(rows) == 4


def test_mandate_columns_are_the_template_header():
    with open(ROOT / "static/xls/subscription_mandates_en.csv", encoding="utf-8") as f:
        assert next(csv.reader(f)) == migration.MANDATE_COLUMNS
