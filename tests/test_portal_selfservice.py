from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.http import Request
from odoo.tests import HttpCase, tagged

from .common import PaymentCommon
from .selfservice_common import load_french


@tagged("post_install", "-at_install")
class TestPortalSelfService(PaymentCommon, HttpCase):
    """Customers end their subscription or refuse its renewal on the portal
    (French Consumer Code, L215-1-1), and nobody else can."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = cls._create_portal_user(
            "self_customer", cls.customer, "claire@martin.example", "Claire Martin"
        )
        cls.stranger = cls._create_portal_user("self_stranger")
        # Started a month ago: 12-month tacit term, refusal deadline well ahead.
        cls.today = fields.Date.context_today(cls.env["res.users"])
        start = cls.today - relativedelta(months=1)
        cls.contract = cls._create_contract(date_start=start, user_id=cls.user_sales.id)
        cls.contract.action_start()
        cls.end = cls.contract.date_end

    def _get(self, url):
        return self.url_open(url, allow_redirects=True)

    def _post(self, url, **data):
        data.setdefault("csrf_token", Request.csrf_token(self))
        return self.url_open(url, data=data, allow_redirects=True)

    def test_consumer_ends_the_subscription_in_three_steps(self):
        self.authenticate("self_customer", "self_customer")
        # 1. The contract page offers it.
        page = self._get(f"/my/subscriptions/{self.contract.id}")
        self.assertIn("o_subscription_end", page.text)
        self.assertIn("o_subscription_refuse_renewal", page.text)
        self.assertIn("included", page.text)
        self.assertNotIn("refused before", page.text)
        # 2. What ends when, before confirming, in the customer's date format.
        url = f"/my/subscriptions/{self.contract.id}/terminate"
        confirm = self._get(url)
        self.assertEqual(confirm.status_code, 200)
        self.assertIn(self.end.strftime("%m/%d/%Y"), confirm.text)
        self.assertIn("o_subscription_end_confirm", confirm.text)
        self.assertIn("free of charge", confirm.text)
        self.assertEqual(self.contract.state, "active")  # a GET changes nothing
        # 3. Confirm.
        done = self._post(url)
        self.assertEqual(done.status_code, 200)
        self.assertIn("o_subscription_end_done", done.text)
        self.assertTrue(self.contract.renewal_refused)
        self.assertEqual(self.contract.termination_date, self.end)
        self.assertEqual(self.contract.termination_request_date, self.today)
        mail = self.env["mail.mail"].search(
            [
                ("res_id", "=", self.contract.id),
                ("model", "=", self.contract._name),
                ("recipient_ids", "in", self.customer.ids),
                ("subject", "ilike", "ends on"),
            ]
        )
        self.assertEqual(len(mail), 1)
        self.assertIn(self.end.strftime("%m/%d/%Y"), mail.body_html)
        note = self.contract.message_ids.filtered(
            lambda m: "Ended online by the customer" in str(m.body)
        )
        self.assertIn("Claire Martin", note.body)
        self.assertTrue(
            self.contract.activity_ids.filtered(lambda a: a.user_id == self.user_sales)
        )
        # Asked again: a clean page, nothing done twice.
        again = self._get(url)
        self.assertIn("o_subscription_end_blocked", again.text)

    def test_consumer_refuses_the_renewal(self):
        self.authenticate("self_customer", "self_customer")
        url = f"/my/subscriptions/{self.contract.id}/refuse_renewal"
        page = self._get(url)
        self.assertIn("o_subscription_refusal_confirm", page.text)
        done = self._post(url)
        self.assertIn("o_subscription_refusal_done", done.text)
        self.assertTrue(self.contract.renewal_refused)
        self.assertEqual(self.contract.renewal_refusal_date, self.today)
        self.assertTrue(
            self.env["mail.mail"].search(
                [
                    ("res_id", "=", self.contract.id),
                    ("model", "=", self.contract._name),
                    ("body_html", "ilike", "refusal of the renewal"),
                ]
            )
        )

    def test_token_holder_ends_it_without_an_account(self):
        self.authenticate(None, None)  # an anonymous visitor's session
        self.contract._portal_ensure_token()
        token = self.contract.access_token
        url = f"/my/subscriptions/{self.contract.id}/terminate?access_token={token}"
        self.assertIn("o_subscription_end_confirm", self._get(url).text)
        self._post(
            f"/my/subscriptions/{self.contract.id}/terminate", access_token=token
        )
        self.assertTrue(self.contract.renewal_refused)

    def test_nobody_else_ends_it(self):
        base = f"/my/subscriptions/{self.contract.id}"
        # Anonymous with a wrong token, another customer, an employee: refused.
        self.contract._portal_ensure_token()
        for path in ("/terminate", "/refuse_renewal"):
            response = self._get(f"{base}{path}?access_token=wrong")
            self.assertIn(response.status_code, (403, 404))
        self.authenticate("self_stranger", "self_stranger")
        for path in ("/terminate", "/refuse_renewal"):
            self.assertEqual(self._get(base + path).status_code, 403)
            response = self._post(base + path)
            self.assertEqual(response.status_code, 403)
            response = self._post(base + path, access_token="x" * 40)
            self.assertEqual(response.status_code, 403)
        self.authenticate("sub_user", "sub_user")
        self.assertEqual(self._get(base + "/terminate").status_code, 403)
        self.assertFalse(self.contract.renewal_refused)
        self.assertEqual(self.contract.state, "active")

    def test_malformed_ids_and_missing_csrf_are_clean_errors(self):
        self.authenticate("self_customer", "self_customer")
        for url in (
            "/my/subscriptions/abc/terminate",
            "/my/subscriptions/-1/terminate",
            "/my/subscriptions/99999999999999999999/terminate",
            f"/my/subscriptions/{2**31 - 1}/terminate",
            f"/my/subscriptions/{2**31}/refuse_renewal",
            "/my/subscriptions/0/refuse_renewal",
        ):
            self.assertEqual(self._get(url).status_code, 404, url)
        response = self.url_open(
            f"/my/subscriptions/{self.contract.id}/terminate",
            data={"csrf_token": "forged"},
        )
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self.contract.renewal_refused)

    def test_business_customer_only_where_the_plan_allows(self):
        self.customer.is_company = True
        self.contract.customer_type = "b2b"
        self.authenticate("self_customer", "self_customer")
        page = self._get(f"/my/subscriptions/{self.contract.id}")
        self.assertNotIn('o_subscription_end"', page.text)
        blocked = self._get(f"/my/subscriptions/{self.contract.id}/terminate")
        self.assertIn("contact your salesperson", blocked.text)
        self._post(f"/my/subscriptions/{self.contract.id}/terminate")
        self.assertFalse(self.contract.renewal_refused)
        self.plan_monthly.portal_termination_b2b = True
        self._post(f"/my/subscriptions/{self.contract.id}/terminate")
        # Within the commitment: it ends at the end of the term.
        self.assertEqual(self.contract.termination_date, self.end)

    def test_free_termination_closes_at_once_with_the_customer_reason(self):
        self.contract.free_termination_date = self.today - relativedelta(days=3)
        self.authenticate("self_customer", "self_customer")
        url = f"/my/subscriptions/{self.contract.id}/terminate"
        self.assertIn("free of charge (French Consumer Code", self._get(url).text)
        self._post(url)
        self.assertEqual(self.contract.state, "closed")
        self.assertEqual(self.contract.close_date, self.today)
        self.assertEqual(self.contract.close_reason_id, self.close_reason)

    def test_french_customer_reads_french_dates(self):
        load_french(self.env)
        self.portal_user.lang = "fr_FR"
        self.authenticate("self_customer", "self_customer")
        page = self._get(f"/my/subscriptions/{self.contract.id}/terminate")
        self.assertIn(self.end.strftime("%d/%m/%Y"), page.text)
        self.assertIn("Confirmer", page.text)

    def test_customer_changes_the_quantity_after_seeing_the_amount(self):
        self.plan_monthly.write(
            {"portal_quantity_change": True, "portal_max_quantity": 5}
        )
        self.contract._generate_invoices()
        line = self.contract.line_ids
        base = f"/my/subscriptions/{self.contract.id}"
        self.authenticate("self_customer", "self_customer")
        self.assertIn("o_subscription_quantity", self._get(base).text)
        too_many = self._get(f"{base}/quantity?qty_{line.id}=9")
        self.assertIn("o_subscription_quantity_error", too_many.text)
        self.assertNotIn("o_subscription_quantity_confirm", too_many.text)
        malformed = self._get(f"{base}/quantity?qty_{line.id}=abc&qty_x=2")
        self.assertEqual(malformed.status_code, 200)
        preview = self._get(f"{base}/quantity?qty_{line.id}=2")
        self.assertIn("o_subscription_quantity_box", preview.text)
        self.assertIn("200.00", preview.text)  # the new amount per period
        self.assertEqual(line.quantity, 1)  # a preview changes nothing
        self.assertFalse(
            self.env["subscription.contract.amend"].search(
                [("contract_id", "=", self.contract.id)]
            )
        )
        done = self._post(f"{base}/quantity", **{f"qty_{line.id}": "2"})
        self.assertIn("o_subscription_quantity_done", done.text)
        self.assertEqual(self.contract.recurring_amount_untaxed, 200.0)
        self.assertTrue(
            self.env["account.move"].search(
                [
                    ("subscription_contract_id", "=", self.contract.id),
                    ("subscription_amendment", "=", True),
                ]
            )
        )
        self.authenticate("self_stranger", "self_stranger")
        self.assertEqual(self._get(f"{base}/quantity").status_code, 403)
        response = self._post(f"{base}/quantity", **{f"qty_{line.id}": "5"})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.contract.recurring_amount_untaxed, 200.0)

    def test_customer_changes_how_to_pay(self):
        card = self._token(self.customer)
        foreign_card = self._token(self.partner_a)
        base = f"/my/subscriptions/{self.contract.id}"
        self.authenticate("self_stranger", "self_stranger")
        response = self._post(f"{base}/payment", method="transfer")
        self.assertEqual(response.status_code, 403)
        self.authenticate("self_customer", "self_customer")
        page = self._get(base)
        self.assertIn("o_subscription_payment_card", page.text)
        self.assertIn("o_subscription_mandate_text", page.text)
        # Someone else's card: refused.
        refused = self._post(f"{base}/payment", method="card", token_id=foreign_card.id)
        self.assertIn("payment_refused", refused.url)
        self.assertEqual(self.contract.payment_method, "transfer")
        done = self._post(f"{base}/payment", method="card", token_id=card.id)
        self.assertIn("o_subscription_payment_done", done.text)
        self.assertEqual(self.contract.payment_method, "card")
        self.assertEqual(self.contract.payment_token_id, card)
        self._post(f"{base}/payment", method="transfer")
        self.assertEqual(self.contract.payment_method, "transfer")
        # A mandate needs the acceptance of its text.
        refused = self._post(
            f"{base}/payment", method="sepa", iban="FR7630006000011234567890189"
        )
        self.assertIn("payment_refused", refused.url)
        self.assertFalse(self.contract.mandate_id)
        self._post(
            f"{base}/payment",
            method="sepa",
            iban="FR76 3000 6000 0112 3456 7890 189",
            holder="Claire Martin",
            accept="1",
        )
        mandate = self.contract.mandate_id
        self.assertEqual(self.contract.payment_method, "sepa_direct_debit")
        self.assertEqual(mandate.state, "active")
        self.assertEqual(mandate.signature_date, self.today)
        self.assertEqual(
            mandate.partner_bank_id.sanitized_acc_number, "FR7630006000011234567890189"
        )
        signed = mandate.message_ids.filtered(lambda m: "Signed online" in str(m.body))
        self.assertIn("127.0.0.1", signed.body)
        self.assertIn(mandate.name, signed.body)
        mail = self.env["mail.mail"].search(
            [
                ("model", "=", self.contract._name),
                ("res_id", "=", self.contract.id),
                ("subject", "ilike", mandate.name),
            ]
        )
        self.assertEqual(len(mail), 1)
        self.assertEqual(len(mail.mail_message_id.attachment_ids), 1)
        self.assertIn(self.customer, mail.recipient_ids)
        # A malformed IBAN: a clean refusal.
        refused = self._post(
            f"{base}/payment", method="sepa", iban="FR00 1234", accept="1"
        )
        self.assertIn("payment_refused", refused.url)
        self.assertEqual(self.contract.mandate_id, mandate)
