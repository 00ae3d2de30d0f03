import csv
import tempfile

from freezegun import freeze_time

from odoo.tests import new_test_user, tagged
from odoo.tools.misc import file_path
from odoo.tools.translate import TranslationImporter

from ..lib import migration
from .common import SubscriptionCommon

OPTIONS = migration.IMPORT_OPTIONS

CONTRACT_HEADER = [
    "Customer",
    "Plan",
    "Start Date",
    "Commitment End",
    "Billed Until",
    "Status",
    "Payment Method",
    "Customer Type",
    "Tacit Renewal",
    "Customer Notice (days before end)",
    "Salesperson",
    "Currency",
    "Catch-up Confirmed",
    "Lines/Product",
    "Lines/Quantity",
    "Lines/Unit Price",
    "Lines/Discount (%)",
]


to_csv = migration.to_csv


class ImportCommon(SubscriptionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_billing = new_test_user(
            cls.env,
            login="sub_billing",
            name="Bastien Billing",
            groups="base.group_user,subscription_billing.group_subscription_user,"
            "account.group_account_invoice",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.user_manager.groups_id += cls.env.ref("account.group_account_invoice")
        cls.customer.write({"ref": "C-0042", "is_company": True})
        cls.customer_vat = cls.env["res.partner"].create(
            {"name": "Garage Dupont", "vat": "FR23334175221", "is_company": True}
        )
        cls.consumer = cls.env["res.partner"].create(
            {"name": "Julie Petit", "email": "julie@petit.example"}
        )
        cls.plan_monthly.name = "Monthly Import"

    def _import(self, user, model, content, dryrun, file_name="book.csv"):
        """Run Odoo's import screen as ``user``: the columns mapped by their
        headers, as the screen maps them, then Test (``dryrun``) or Import."""
        wizard = (
            self.env["base_import.import"]
            .with_user(user)
            .with_context(**user.env.context)
            .create(
                {
                    "res_model": model,
                    "file": content,
                    "file_name": file_name,
                    "file_type": "text/csv"
                    if file_name.endswith(".csv")
                    else "application/vnd.openxmlformats-officedocument."
                    "spreadsheetml.sheet",
                }
            )
        )
        preview = wizard.parse_preview(dict(OPTIONS))
        self.assertFalse(preview.get("error"), preview)
        headers = preview["headers"]
        matches = preview["matches"]
        unmatched = [h for i, h in enumerate(headers) if not matches.get(i)]
        self.assertFalse(unmatched, "every column of the template is recognised")
        fields = ["/".join(matches[i]) for i in range(len(headers))]
        return wizard.execute_import(fields, headers, dict(OPTIONS), dryrun=dryrun)

    def _errors(self, result):
        """{(row, column)} of the error messages (row numbers of the file,
        header excluded, 1-based)."""
        return {
            (message["rows"]["from"] + 1, message.get("field"))
            for message in result["messages"]
            if message["type"] == "error" and "rows" in message
        }


@tagged("post_install", "-at_install")
class TestImportContracts(ImportCommon):
    def _row(self, customer, start="2025-01-01", billed="2027-02-28", **kw):
        values = {
            "Customer": customer,
            "Plan": "Monthly Import",
            "Start Date": start,
            "Commitment End": "",
            "Billed Until": billed,
            "Status": "Active",
            "Payment Method": "Bank transfer",
            "Customer Type": "",
            "Tacit Renewal": "",
            "Customer Notice (days before end)": "",
            "Salesperson": "",
            "Currency": "",
            "Catch-up Confirmed": "",
            "Lines/Product": "Maintenance",
            "Lines/Quantity": "2",
            "Lines/Unit Price": "45.50",
            "Lines/Discount (%)": "10",
        }
        values.update(kw)
        return [values[h] for h in CONTRACT_HEADER]

    def _line_row(self, product="Hosting", qty="1", price="30", discount="0"):
        return [""] * (len(CONTRACT_HEADER) - 4) + [product, qty, price, discount]

    @freeze_time("2027-03-10")
    def test_template_files_are_recognised(self):
        """The downloadable templates (CSV and XLSX) map every column by its
        header, and the example rows import in a test run."""
        Contract = self.env["subscription.contract"].with_user(self.user_billing)
        templates = Contract.get_import_templates()
        self.assertEqual(len(templates), 2)
        self.assertEqual(
            {t["template"].rsplit(".", 1)[1] for t in templates}, {"csv", "xlsx"}
        )
        for template in templates:
            path = file_path(template["template"].lstrip("/"))
            with open(path, "rb") as handle:
                content = handle.read()
            wizard = (
                self.env["base_import.import"]
                .with_user(self.user_billing)
                .create(
                    {
                        "res_model": "subscription.contract",
                        "file": content,
                        "file_name": path.rsplit("/", 1)[1],
                        "file_type": "text/csv"
                        if path.endswith(".csv")
                        else "application/vnd.openxmlformats-officedocument."
                        "spreadsheetml.sheet",
                    }
                )
            )
            preview = wizard.parse_preview(dict(OPTIONS))
            self.assertFalse(preview.get("error"), preview)
            unmatched = [
                h
                for i, h in enumerate(preview["headers"])
                if not preview["matches"].get(i)
            ]
            self.assertFalse(unmatched, path)

    @freeze_time("2027-03-10")
    def test_billed_until_guard_and_preview(self):
        """The Test shows what the first run invoices; an old contract without
        'Billed Until' is refused at its row and column unless confirmed; once
        imported, nothing before 'Billed Until' is ever billed."""
        Contract = self.env["subscription.contract"]
        before = Contract.search_count([])
        content = to_csv(
            CONTRACT_HEADER,
            [
                self._row("C-0042"),  # by reference
                self._line_row(),
                self._row("FR23334175221", billed=""),  # by VAT, never billed
            ],
        )
        result = self._import(
            self.user_billing, "subscription.contract", content, dryrun=True
        )
        self.assertEqual(self._errors(result), {(3, "billed_until")})
        error = next(m for m in result["messages"] if m["type"] == "error")
        self.assertIn("27 periods", error["message"])
        self.assertEqual(Contract.search_count([]), before)

        # Confirmed: the test passes and says what the first run bills.
        content = to_csv(
            CONTRACT_HEADER,
            [
                self._row("C-0042"),
                self._line_row(),
                self._row("Garage Dupont", billed="", **{"Catch-up Confirmed": "1"}),
            ],
        )
        result = self._import(
            self.user_billing, "subscription.contract", content, dryrun=True
        )
        self.assertFalse(self._errors(result))
        info = [m for m in result["messages"] if m["type"] == "info"]
        self.assertEqual(len(info), 1)
        # 1 invoice (March) for the first, 27 (Jan 2025 - Mar 2027) for the
        # second: (2 x 45.50 x 0.9 + 30) = 111.90 and 27 x 81.90 = 2211.30.
        self.assertIn("28 invoices", info[0]["message"])
        self.assertIn("2,323.20", info[0]["message"])
        warning = next(m for m in result["messages"] if m["type"] == "warning")
        self.assertEqual(warning["rows"]["from"] + 1, 3)
        self.assertEqual(Contract.search_count([]), before, "a test writes nothing")

        # The administrator imports, for other salespeople too.
        content = to_csv(
            CONTRACT_HEADER,
            [
                self._row("C-0042", Salesperson="Sophie Sales"),
                self._line_row(),
                self._row("Garage Dupont", billed="", **{"Catch-up Confirmed": "1"}),
            ],
        )
        result = self._import(
            self.user_manager, "subscription.contract", content, dryrun=False
        )
        self.assertFalse(result["messages"])
        contracts = Contract.browse(result["ids"])
        self.assertEqual(len(contracts), 2)
        first = contracts.filtered(lambda c: c.partner_id == self.customer)
        self.assertEqual(first.state, "active")
        self.assertEqual(str(first.billed_until), "2027-02-28")
        self.assertEqual(str(first.next_invoice_date), "2027-03-01")
        self.assertEqual(first.user_id, self.user_sales)
        self.assertEqual(len(first.line_ids), 2)
        self.assertEqual(first.recurring_amount_untaxed, 111.90)

        self._bill("2027-03-10")
        invoices = self._invoices(first)
        self.assertEqual(len(invoices), 1)
        self.assertEqual(str(invoices.subscription_period_start), "2027-03-01")
        self.assertEqual(invoices.amount_untaxed, 111.90)
        second = contracts - first
        self.assertEqual(len(self._invoices(second)), 27)
        self.assertAlmostEqual(
            sum(self._invoices(second).mapped("amount_untaxed")), 2211.30
        )

    @freeze_time("2027-03-10")
    def test_billed_until_mid_period(self):
        """Billed until the middle of a period: the first invoice bills the
        remaining days only, never a day before."""
        content = to_csv(
            CONTRACT_HEADER, [self._row("Boulangerie Martin", billed="2027-03-15")]
        )
        result = self._import(
            self.user_billing, "subscription.contract", content, dryrun=False
        )
        self.assertFalse(result["messages"])
        contract = self.env["subscription.contract"].browse(result["ids"])
        self._bill("2027-03-20")
        invoice = self._invoices(contract)
        self.assertEqual(len(invoice), 1)
        self.assertEqual(str(invoice.subscription_period_start), "2027-03-16")
        self.assertEqual(str(invoice.subscription_period_end), "2027-03-31")
        # 16 of 31 days of 2 x 45.50 less 10%.
        self.assertEqual(invoice.amount_untaxed, round(81.90 * 16 / 31, 2))
        self._bill("2027-04-01")
        invoices = self._invoices(contract)
        self.assertEqual(len(invoices), 2)
        self.assertEqual(str(invoices[1].subscription_period_start), "2027-04-01")

    @freeze_time("2027-03-10")
    def test_errors_by_row_and_column_nothing_half_imported(self):
        """Every faulty row is reported with its column, and a file with an
        error imports nothing, its good rows included."""
        running = self._start(date_start="2026-01-01")  # Martin, Maintenance
        running.next_period_start = "2027-03-01"
        other_currency = self.setup_other_currency("EUR")
        self.assertNotEqual(other_currency, self.company.currency_id)
        Contract = self.env["subscription.contract"]
        before = Contract.search_count([])
        content = to_csv(
            CONTRACT_HEADER,
            [
                self._row("Garage Dupont"),  # 1: good
                self._row("Nobody Known"),  # 2: unknown customer
                self._row("Garage Dupont", **{"Lines/Product": "No Such Thing"}),
                self._row("Garage Dupont", **{"Plan": "No Such Plan"}),
                self._row("Boulangerie Martin"),  # 5: duplicate of `running`
                self._row("Garage Dupont", **{"Commitment End": "2024-12-31"}),
                self._row("Garage Dupont", **{"Currency": other_currency.name}),
                self._row(  # 8: consumer, notice outside L215-1's window
                    "Julie Petit",
                    **{
                        "Customer Type": "Consumer (B2C)",
                        "Tacit Renewal": "1",
                        "Customer Notice (days before end)": "10",
                    },
                ),
            ],
        )
        for user in (self.user_billing, self.user_manager):
            for dryrun in (True, False):
                result = self._import(
                    user, "subscription.contract", content, dryrun=dryrun
                )
                self.assertEqual(
                    self._errors(result),
                    {
                        (2, "partner_id"),
                        (3, "line_ids"),
                        (4, "plan_id"),
                        (5, "partner_id"),
                        (6, "date_end"),
                        (7, "currency_id"),
                        (8, "renewal_notice_days"),
                    },
                    result["messages"],
                )
                self.assertFalse(result["ids"])
                self.assertEqual(Contract.search_count([]), before)


@tagged("post_install", "-at_install")
class TestImportMandates(ImportCommon):
    HEADER = migration.MANDATE_COLUMNS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.sepa_creditor_identifier = "FR72ZZZ123456"
        cls.env["subscription.sepa.mandate"].create(
            {
                "name": "OLD-TOOL-0001",
                "partner_id": cls.customer.id,
                "debtor_iban": "FR7630006000011234567890189",
                "debtor_bic": "AGRIFRPP",
            }
        )

    def test_import_mandates(self):
        Mandate = self.env["subscription.sepa.mandate"]
        good = [
            "OLD-TOOL-0002",
            "Garage Dupont",
            "FR76 3000 4000 0312 3456 7890 143",
            "BNPAFRPP",
            "2024-05-02",
            "Business to business",
            "Active",
            "1",
            "2027-02-05",
        ]
        fresh = [
            "OLD-TOOL-0003",
            "Julie Petit",
            "DE89370400440532013000",
            "COBADEFFXXX",
            "2027-01-15",
            "Core (consumers)",
            "Active",
            "",
            "",
        ]
        bad_rows = [
            ["OLD-TOOL-0004", "Julie Petit", "DE89370400440532013001"] + fresh[3:],
            ["RUM ÉLODIE 5", "Julie Petit"] + fresh[2:],
            ["X" * 36, "Julie Petit"] + fresh[2:],
            ["OLD-TOOL-0001", "Julie Petit"] + fresh[2:],
            ["OLD-TOOL-0006", "Julie Petit"] + fresh[2:7] + ["1", ""],
        ]
        before = Mandate.search_count([])
        for dryrun in (True, False):
            result = self._import(
                self.user_billing,
                "subscription.sepa.mandate",
                to_csv(self.HEADER, [good, fresh, *bad_rows]),
                dryrun=dryrun,
            )
            self.assertEqual(
                self._errors(result),
                {
                    (3, "debtor_iban"),
                    (4, "name"),
                    (5, "name"),
                    (6, "name"),
                    (7, "previous_collection_date"),
                },
                result["messages"],
            )
            self.assertEqual(Mandate.search_count([]), before)

        result = self._import(
            self.user_billing,
            "subscription.sepa.mandate",
            to_csv(self.HEADER, [good, fresh]),
            dryrun=False,
        )
        self.assertFalse(result["messages"])
        used, new = Mandate.browse(result["ids"])
        self.assertEqual(used.state, "active")
        self.assertEqual(used.scheme, "B2B")
        self.assertEqual(used.partner_bank_id.partner_id, self.customer_vat)
        self.assertEqual(
            used.partner_bank_id.sanitized_acc_number, "FR7630004000031234567890143"
        )
        self.assertEqual(used.bic, "BNPAFRPP")
        self.assertEqual(str(used.last_debit_date), "2027-02-05")
        self.assertFalse(used._is_first_collection(), "next debit is RCUR")
        self.assertTrue(new._is_first_collection(), "never used: FRST")

        # A contract paid by an imported mandate, the mandate given by its UMR.
        content = to_csv(
            [
                "Customer",
                "Plan",
                "Start Date",
                "Status",
                "Payment Method",
                "SEPA Mandate",
                "Lines/Product",
            ],
            [
                [
                    "Garage Dupont",
                    "Monthly Import",
                    "2027-01-01",
                    "Active",
                    "SEPA direct debit",
                    "OLD-TOOL-0002",
                    "Hosting",
                ]
            ],
        )
        with freeze_time("2027-01-10"):
            result = self._import(
                self.user_billing, "subscription.contract", content, dryrun=False
            )
        self.assertFalse(result["messages"])
        contract = self.env["subscription.contract"].browse(result["ids"])
        self.assertEqual(contract.mandate_id, used)
        self.assertEqual(contract.line_ids.product_id, self.product_hosting)
        self.assertEqual(contract.line_ids.tax_ids, self.tax_20)
        self.assertEqual(contract.payment_method, "sepa_direct_debit")


@tagged("post_install", "-at_install")
class TestImportOpenInvoices(ImportCommon):
    HEADER = [
        "Partner",
        "Subscription Contract",
        "invoice_date",
        "Due Date",
        "Payment Reference",
        "Post on Import",
        "Invoice lines/Label",
        "Invoice lines/Quantity",
        "Invoice lines/Unit Price",
    ]

    @freeze_time("2027-03-10")
    def test_open_invoices_carried_over(self):
        """An open invoice of the previous tool is imported from the Invoices
        list, posted at once, linked to its contract, not sent again, and open
        for reminders; an error in the file imports none of them."""
        contract = self._start(date_start="2027-01-01")
        user = self.user_billing.with_context(default_move_type="out_invoice")
        templates = (
            self.env["account.move"]
            .with_user(user)
            .with_context(default_move_type="out_invoice")
            .get_import_templates()
        )
        self.assertIn(
            "/subscription_billing/static/xls/subscription_open_invoices_en.csv",
            [t["template"] for t in templates],
        )
        row = [
            "C-0042",
            contract.name,
            "2027-02-01",
            "2027-03-03",
            "OLD-INV-0131",
            "1",
            "Maintenance, February 2027",
            "2",
            "40.95",
        ]
        Move = self.env["account.move"]
        before = Move.search_count([("move_type", "=", "out_invoice")])
        bad = [*row[:1], "SUB/NOPE", *row[2:]]
        result = self._import_as(user, to_csv(self.HEADER, [row, bad]), dryrun=False)
        self.assertEqual(self._errors(result), {(2, "subscription_import_contract_id")})
        self.assertEqual(Move.search_count([("move_type", "=", "out_invoice")]), before)

        result = self._import_as(user, to_csv(self.HEADER, [row]), dryrun=False)
        self.assertFalse(result["messages"])
        move = Move.browse(result["ids"])
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.move_type, "out_invoice")
        self.assertEqual(move.partner_id, self.customer)
        self.assertEqual(move.subscription_contract_id, contract)
        self.assertEqual(move.payment_reference, "OLD-INV-0131")
        self.assertEqual(str(move.invoice_date_due), "2027-03-03")
        self.assertEqual(move.amount_total, 81.90)
        self.assertEqual(move.payment_state, "not_paid")
        self.assertTrue(move.is_move_sent)
        self.assertFalse(move.subscription_to_send, "not emailed a second time")
        # The billing guard is untouched: the contract bills its own periods.
        self.assertEqual(str(contract.next_period_start), "2027-01-01")

    def _import_as(self, user, content, dryrun):
        return self._import(
            user.with_context(default_move_type="out_invoice"),
            "account.move",
            content,
            dryrun,
        )


@tagged("post_install", "-at_install")
class TestImportFromNeighbours(ImportCommon):
    """The files made by tools/import_from_stripe.py and
    tools/import_from_oca_contract.py (lib/migration.py) from the sample
    exports of lib/tests/data import as they are."""

    PLANS = {"month:1": "Monthly Import", "month:3": "Quarterly", "year:1": "Yearly"}

    def _sample(self, name):
        with open(file_path(f"subscription_billing/lib/tests/data/{name}")) as handle:
            return list(csv.DictReader(handle))

    def _check(self, rows, invoices, contracts):
        content = migration.write_csv(rows).encode()
        result = self._import(
            self.user_manager, "subscription.contract", content, dryrun=True
        )
        self.assertFalse(self._errors(result), result["messages"])
        info = next(m for m in result["messages"] if m["type"] == "info")
        self.assertIn(f"{contracts} contracts", info["message"])
        self.assertIn(f"would make {invoices} invoices", info["message"])
        result = self._import(
            self.user_manager, "subscription.contract", content, dryrun=False
        )
        self.assertFalse(result["messages"])
        return self.env["subscription.contract"].browse(result["ids"])

    @freeze_time("2027-03-10")
    def test_from_stripe(self):
        rows = migration.stripe_rows(
            self._sample("stripe_subscriptions.csv"), self.PLANS
        )
        martin, julie = self._check(rows, invoices=0, contracts=2)
        self.assertEqual(martin.partner_id, self.customer)
        self.assertEqual(str(martin.billed_until), "2027-03-14")
        self.assertEqual(len(martin.line_ids), 2)
        self.assertEqual(julie.customer_type, "b2c")
        self.assertEqual(str(julie.date_end), "2027-12-31")
        self.assertFalse(julie.auto_renew, "an explicit 0 beats the plan's renewal")
        self.assertTrue(martin.auto_renew, "an empty cell: the plan's renewal")
        self._bill("2027-03-15")
        self.assertEqual(
            str(self._invoices(martin).subscription_period_start), "2027-03-15"
        )
        self.assertFalse(self._invoices(julie), "paid until the end of 2027")

    @freeze_time("2027-03-10")
    def test_from_oca_contract(self):
        rows = migration.oca_contract_rows(
            self._sample("oca_contract_contract.csv"),
            self._sample("oca_contract_line.csv"),
            self.PLANS,
        )
        martin, dupont = self._check(rows, invoices=1, contracts=2)
        self.assertEqual(str(martin.billed_until), "2027-02-28")
        self.assertEqual(martin.line_ids.mapped("price_unit"), [45.5, 30.0])
        self.assertEqual(dupont.partner_id, self.customer_vat)
        self.assertEqual(dupont.plan_id, self.plan_quarterly)


@tagged("post_install", "-at_install")
class TestImportTemplatesFrench(ImportCommon):
    def test_french_templates_are_recognised(self):
        """A user working in French downloads the French templates, whose
        headers the import screen maps by itself."""
        self.env["res.lang"]._activate_lang("fr_FR")
        # i18n/fr.po as it is, not merged with a .pot that has not been
        # regenerated yet for these strings (Odoo drops what the .pot lacks).
        importer = TranslationImporter(self.env.cr, verbose=False)
        with (
            open(file_path("subscription_billing/i18n/fr.po"), "rb") as po,
            tempfile.NamedTemporaryFile(suffix=".po") as tmp,
        ):
            tmp.write(po.read())
            tmp.flush()
            tmp.seek(0)
            importer.load(tmp, "po", "fr_FR")
        importer.save(overwrite=True)
        self.env.registry.clear_cache()
        self.env.invalidate_all()
        user = self.user_manager
        user.lang = "fr_FR"
        for model, name in (
            ("subscription.contract", "subscription_contracts_fr"),
            ("subscription.sepa.mandate", "subscription_mandates_fr"),
        ):
            french = self.env[model].with_user(user).with_context(lang="fr_FR")
            templates = french.get_import_templates()
            self.assertIn(
                f"/subscription_billing/static/xls/{name}.xlsx",
                [t["template"] for t in templates],
            )
            with open(
                file_path(f"subscription_billing/static/xls/{name}.csv"), "rb"
            ) as f:
                content = f.read()
            wizard = (
                self.env["base_import.import"]
                .with_user(user)
                .with_context(lang="fr_FR")
                .create(
                    {
                        "res_model": model,
                        "file": content,
                        "file_name": f"{name}.csv",
                        "file_type": "text/csv",
                    }
                )
            )
            preview = wizard.parse_preview(dict(OPTIONS))
            unmatched = [
                h
                for i, h in enumerate(preview["headers"])
                if not preview["matches"].get(i)
            ]
            self.assertFalse(unmatched, name)
