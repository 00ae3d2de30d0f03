from freezegun import freeze_time

from odoo.http import Request
from odoo.tests import HttpCase, tagged

from .common import PaymentCommon


@tagged("post_install", "-at_install")
class TestPortal(PaymentCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = cls._create_portal_user(
            "portal_customer", cls.customer, "claire@martin.example", "Claire Martin"
        )
        cls.stranger = cls._create_portal_user("portal_stranger")
        cls.contract = cls._create_contract(date_start="2027-01-01")
        cls.contract.action_start()
        with freeze_time("2027-01-01"):
            cls.invoice = cls.contract._generate_invoices()
        cls.token = cls._token(cls.customer)
        cls.other_token = cls._token(cls.partner_a)

    def _get(self, url):
        return self.url_open(url, allow_redirects=True)

    def test_owner_sees_the_subscription_and_its_invoices(self):
        self.authenticate("portal_customer", "portal_customer")
        listing = self._get("/my/subscriptions")
        self.assertEqual(listing.status_code, 200)
        self.assertIn(self.contract.name, listing.text)
        page = self._get(f"/my/subscriptions/{self.contract.id}")
        self.assertEqual(page.status_code, 200)
        self.assertIn(self.contract.name, page.text)
        self.assertIn(self.invoice.name, page.text)
        self.assertIn("o_subscription_pay", page.text)
        self.assertIn("Maintenance", page.text)
        pdf = self._get(f"/my/subscriptions/{self.contract.id}?report_type=html")
        self.assertEqual(pdf.status_code, 200)
        self.assertIn(self.contract.name, pdf.text)

    def test_another_customer_is_refused(self):
        self.authenticate("portal_stranger", "portal_stranger")
        listing = self._get("/my/subscriptions")
        self.assertNotIn(self.contract.name, listing.text)
        page = self._get(f"/my/subscriptions/{self.contract.id}")
        self.assertNotIn(self.contract.name, page.text)
        self.assertTrue(page.url.endswith("/my"), page.url)

    def test_owner_sees_contracts_of_every_company(self):
        foreign = self._contract_in_other_company()
        self.authenticate("portal_customer", "portal_customer")
        self.assertIn(foreign.name, self._get("/my/subscriptions").text)
        self.assertIn(foreign.name, self._get(f"/my/subscriptions/{foreign.id}").text)

    def test_customer_chooses_the_card_of_the_contract(self):
        self.contract.payment_method = "card"
        self.authenticate("portal_customer", "portal_customer")
        page = self._get(f"/my/subscriptions/{self.contract.id}")
        self.assertIn("4242", page.text)
        response = self.url_open(
            f"/my/subscriptions/{self.contract.id}/card",
            data={"token_id": self.token.id, "csrf_token": Request.csrf_token(self)},
        )
        self.assertIn("card_saved", response.url)
        self.assertEqual(self.contract.payment_token_id, self.token)
        self.assertEqual(self.contract.payment_method, "card")
        refused = self.url_open(
            f"/my/subscriptions/{self.contract.id}/card",
            data={
                "token_id": self.other_token.id,
                "csrf_token": Request.csrf_token(self),
            },
        )
        self.assertIn("card_refused", refused.url)
        self.assertEqual(self.contract.payment_token_id, self.token)
