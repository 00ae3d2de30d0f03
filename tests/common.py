from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command, fields
from odoo.tests import new_test_user

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


def days(first, last):
    """Every day from ``first`` to ``last`` (ISO strings), both included."""
    day = fields.Date.to_date(first)
    while day <= fields.Date.to_date(last):
        yield day
        day += timedelta(days=1)


def provider_ledger(registry):
    """Patch the demo provider so that every accepted charge is written down
    outside the database, as a real provider would keep it: return the ledger
    (a list of transaction references) and the patch to enter."""
    ledger = []
    transaction_class = registry["payment.transaction"]
    original = transaction_class._send_payment_request

    def send(tx):
        original(tx)
        if tx.state == "done":
            ledger.append(tx.reference)

    return ledger, patch.object(transaction_class, "_send_payment_request", send)


class SubscriptionCommon(AccountTestInvoicingCommon):
    """Records every subscription test needs, built here (never demo data)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.company_data["company"]
        # The accounting test user also administers subscriptions.
        cls.env.user.groups_id += cls.env.ref(
            "subscription_billing.group_subscription_manager"
        )
        cls.plan_monthly = cls.env["subscription.plan"].create(
            {
                "name": "Monthly",
                "billing_interval": 1,
                "billing_unit": "month",
                "commitment_length": 12,
                "commitment_unit": "month",
                "auto_renew": True,
                "company_id": False,
            }
        )
        cls.plan_quarterly = cls.env["subscription.plan"].create(
            {
                "name": "Quarterly",
                "billing_interval": 3,
                "billing_unit": "month",
                "company_id": False,
            }
        )
        cls.plan_yearly = cls.env["subscription.plan"].create(
            {
                "name": "Yearly",
                "billing_interval": 1,
                "billing_unit": "year",
                "company_id": False,
            }
        )
        cls.tax_20 = cls.env["account.tax"].create(
            {
                "name": "VAT 20% (test)",
                "amount": 20.0,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "company_id": cls.company.id,
            }
        )
        cls.product_maintenance = cls.env["product.product"].create(
            {
                "name": "Maintenance",
                "type": "service",
                "list_price": 100.0,
                "taxes_id": [Command.set(cls.tax_20.ids)],
            }
        )
        cls.product_hosting = cls.env["product.product"].create(
            {
                "name": "Hosting",
                "type": "service",
                "list_price": 30.0,
                "taxes_id": [Command.set(cls.tax_20.ids)],
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Boulangerie Martin",
                "email": "compta@martin.example",
                "lang": "en_US",
            }
        )
        cls.close_reason = cls.env.ref(
            "subscription_billing.close_reason_customer_request"
        )
        cls.user_sales = new_test_user(
            cls.env,
            login="sub_user",
            name="Sophie Sales",
            groups="base.group_user,subscription_billing.group_subscription_user",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.user_other_sales = new_test_user(
            cls.env,
            login="sub_user2",
            name="Olivier Other",
            groups="base.group_user,subscription_billing.group_subscription_user",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.user_manager = new_test_user(
            cls.env,
            login="sub_manager",
            name="Marie Manager",
            groups="base.group_user,subscription_billing.group_subscription_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )

    @classmethod
    def _create_portal_user(cls, login, parent=None, email=None, name=None):
        """A portal user (password = login) who is a contact of ``parent``."""
        user = new_test_user(
            cls.env,
            login=login,
            password=login,
            name=name or login,
            groups="base.group_portal",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        if parent:
            user.partner_id.write({"parent_id": parent.id, "email": email})
        return user

    @classmethod
    def _create_contract(cls, partner=None, plan=None, products=None, **values):
        products = products or cls.product_maintenance
        vals = {
            "partner_id": (partner or cls.customer).id,
            "plan_id": (plan or cls.plan_monthly).id,
            "date_start": "2027-01-01",
            "line_ids": [Command.create({"product_id": p.id}) for p in products],
        }
        vals.update(values)
        return cls.env["subscription.contract"].create(vals)

    def _start(self, **values):
        """Create (see ``_create_contract``) and start a contract."""
        contract = self._create_contract(**values)
        contract.action_start()
        return contract

    def _start_suspended_11_to_20_january(self):
        """A monthly contract billed in arrears from 1 January 2027, suspended
        on the 11th and resumed on the 21st."""
        self.plan_monthly.billing_mode = "arrears"
        contract = self._start(date_start="2027-01-01")
        with freeze_time("2027-01-11"):
            contract.action_suspend()
        with freeze_time("2027-01-21"):
            contract.action_resume()
        return contract

    def _contract_in_other_company(self):
        """The customer's running yearly contract with another company."""
        other = self.setup_other_company(name="Other Co")["company"]
        contract = self.env["subscription.contract"].create(
            {
                "partner_id": self.customer.id,
                "plan_id": self.plan_yearly.id,
                "company_id": other.id,
                "date_start": "2027-01-01",
            }
        )
        contract.state = "active"
        return contract

    def _quarterly_aligned_plan(self):
        """Quarterly, aligned on calendar quarters: a first partial quarter."""
        return self.env["subscription.plan"].create(
            {
                "name": "Quarterly aligned",
                "billing_interval": 3,
                "billing_unit": "month",
                "align_to_calendar": True,
                "company_id": False,
            }
        )

    def _bill(self, day):
        """The billing run on ``day``."""
        with freeze_time(day):
            self.env["subscription.contract"]._cron_generate_invoices()

    def _send(self, day):
        """The sending run on ``day``."""
        with freeze_time(day):
            return self.env["account.move"]._cron_subscription_send()

    def _run_cron(self, day):
        """The daily run: billing, then sending (two scheduled actions)."""
        with freeze_time(day):
            self.env["subscription.contract"]._cron_generate_invoices()
            self.env["account.move"]._cron_subscription_send()

    def _invoices(self, contract):
        """The contract's invoices that are not cancelled, oldest period first."""
        return self.env["account.move"].search(
            [("subscription_contract_id", "=", contract.id), ("state", "!=", "cancel")],
            order="subscription_period_start",
        )


class SepaCommon(SubscriptionCommon):
    """Direct debit: a creditor company, two debtors with a signed mandate each
    (one of them debited before), and contracts paid by direct debit."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.setup_other_currency("EUR")
        cls.company.subscription_reminder_policy_id = cls.env.ref(
            "subscription_billing.reminder_policy_default"
        )
        bank = cls.env["res.bank"].create(
            {"name": "Crédit Agricole", "bic": "AGRIFRPP"}
        )
        cls.journal = cls.company_data["default_journal_bank"]
        cls.journal.bank_account_id = cls.env["res.partner.bank"].create(
            {
                "partner_id": cls.company.partner_id.id,
                "acc_number": "FR7630006000011234567890189",
                "bank_id": bank.id,
            }
        )
        cls.company.write(
            {
                "sepa_creditor_identifier": "FR72ZZZ123456",
                "sepa_journal_id": cls.journal.id,
                "sepa_prenotification_days": 14,
                "sepa_pain_version": "pain.008.001.08",
            }
        )
        debtor_bank = cls.env["res.bank"].create(
            {"name": "La Banque", "bic": "CCBPFRPP"}
        )
        cls.customer_account = cls.env["res.partner.bank"].create(
            {
                "partner_id": cls.customer.id,
                "acc_number": "FR1420041010050500013M02606",
                "bank_id": debtor_bank.id,
            }
        )
        cls.mandate = cls._mandate(cls.customer, cls.customer_account)
        cls.other_account = cls.env["res.partner.bank"].create(
            {
                "partner_id": cls.partner_a.id,
                "acc_number": "DE89370400440532013000",
                "bank_id": debtor_bank.id,
            }
        )
        cls.other_mandate = cls._mandate(cls.partner_a, cls.other_account)
        cls.other_mandate.last_debit_date = "2026-12-15"  # collected before: RCUR

    @classmethod
    def _mandate(cls, partner, account, **values):
        mandate = cls.env["subscription.sepa.mandate"].create(
            {
                "partner_id": partner.id,
                "partner_bank_id": account.id,
                "signature_date": "2026-12-01",
                "signature_place": "Lyon",
                **values,
            }
        )
        mandate.action_validate()
        return mandate

    def _sdd_contract(self, partner, mandate, **values):
        values.setdefault("currency_id", self.eur.id)
        contract = self._create_contract(
            partner=partner,
            date_start="2027-01-01",
            payment_method="sepa_direct_debit",
            mandate_id=mandate.id,
            user_id=self.user_sales.id,
            **values,
        )
        contract.action_start()
        return contract

    def _bill_and_batch(self):
        first = self._sdd_contract(self.customer, self.mandate)
        second = self._sdd_contract(self.partner_a, self.other_mandate)
        with freeze_time("2027-01-01"):
            moves = (first | second)._generate_invoices()
            moves._subscription_send()  # delivered: reminders wait for it
            self.env["mail.mail"].search([]).unlink()
            batch = self.env["subscription.sepa.batch"]._cron_prepare_batches()
        return first, second, moves, batch


class PaymentCommon(SubscriptionCommon):
    """Card payments: the demo payment provider, saved cards and contracts paid
    by card."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        base = (
            cls.env["payment.provider"].sudo().search([("code", "=", "demo")], limit=1)
        )
        cls.provider = (
            base.copy({"company_id": cls.company.id})
            if (base.company_id != cls.company)
            else base
        )
        cls.provider.write({"state": "test", "is_published": True})
        cls.payment_method = cls.provider.payment_method_ids[:1] or cls.env.ref(
            "payment.payment_method_unknown"
        )
        cls.company.subscription_reminder_policy_id = cls.env.ref(
            "subscription_billing.reminder_policy_default"
        )

    @classmethod
    def _token(cls, partner, state="done"):
        return (
            cls.env["payment.token"]
            .sudo()
            .create(
                {
                    "provider_id": cls.provider.id,
                    "payment_method_id": cls.payment_method.id,
                    "payment_details": "4242",
                    "partner_id": partner.id,
                    "provider_ref": f"demo-{partner.id}-{state}",
                    "demo_simulated_state": state,
                }
            )
        )

    def _card_contract(self, state="done", partner=None):
        partner = partner or self.customer
        contract = self._create_contract(
            partner=partner,
            date_start="2027-01-01",
            payment_method="card",
            payment_token_id=self._token(partner, state).id,
            user_id=self.user_sales.id,
        )
        contract.action_start()
        with freeze_time("2027-01-01"):
            invoice = contract._generate_invoices()
            invoice._subscription_send()  # delivered: reminders wait for it
        return contract, invoice

    def _charge(self, day):
        with freeze_time(day):
            self.env["account.move"]._cron_charge_cards()


class ReminderCommon(SubscriptionCommon):
    """Payment reminders: invoices billed, delivered, then reminded."""

    def _bill(self, partner=None, products=None, day="2027-01-01", **values):
        """Start a contract on ``day`` and bill and deliver its first invoice
        (reminders wait for delivery); the invoice emails are dropped."""
        contract = self._create_contract(
            partner=partner,
            products=products,
            date_start=day,
            user_id=self.user_sales.id,
            **values,
        )
        contract.action_start()
        with freeze_time(day):
            moves = contract._generate_invoices()
            moves._subscription_send()  # delivered: reminders wait for it
        self.env["mail.mail"].search([]).unlink()  # the invoice emails
        return contract, moves

    def _remind(self, day):
        with freeze_time(day):
            self.env["account.move"]._cron_send_reminders()

    def _mails(self):
        return self.env["mail.mail"].search(
            [("model", "=", "account.move")], order="id"
        )
