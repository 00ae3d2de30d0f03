import json
import logging

from freezegun import freeze_time
from lxml import html

from odoo import Command
from odoo.http import Request
from odoo.tests import HttpCase, tagged

from .common import PaymentCommon

HUGE = "99999999999999999999"


@tagged("post_install", "-at_install")
class TestPortalInput(PaymentCommon, HttpCase):
    """Every portal route of the addon, called as customers, strangers and
    anonymous visitors with malformed input: no HTTP 500, nothing logged."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = cls._create_portal_user(
            "portal_owner", cls.customer, "claire@martin.example", "Claire Martin"
        )
        cls.stranger = cls._create_portal_user("portal_other")
        cls.stranger.partner_id.parent_id = cls.partner_a
        cls.token = cls._token(cls.customer)
        cls.other_token = cls._token(cls.partner_a)
        cls.contract = cls._create_contract(
            date_start="2027-01-01",
            payment_method="card",
            payment_token_id=cls.token.id,
            line_ids=[
                Command.create(
                    {"product_id": cls.product_maintenance.id, "discount": 10.0}
                )
            ],
        )
        cls.contract.action_start()
        with freeze_time("2027-01-01"):
            cls.invoice = cls.contract._generate_invoices()
        cls.other_contract = cls._create_contract(partner=cls.partner_a)
        cls.other_contract.action_start()
        cls.contract._portal_ensure_token()
        cls.other_contract._portal_ensure_token()

    def _csrf(self):
        return Request.csrf_token(self)

    def _assert_clean(self, response, url):
        self.assertNotEqual(response.status_code, 500, url)
        self.assertLess(response.status_code, 500, url)
        self.assertNotIn("Traceback", response.text, url)

    def _get_all(self, urls):
        with self.assertNoLogs(level=logging.WARNING):
            for url in urls:
                response = self.url_open(url)
                self._assert_clean(response, url)

    def _page(self, url):
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200, url)
        return response

    # --- 1. Defects ------------------------------------------------------

    def test_contract_pdf_download(self):
        self.authenticate("portal_owner", "portal_owner")
        response = self._page(
            f"/my/subscriptions/{self.contract.id}?report_type=pdf&download=true"
        )
        disposition = response.headers.get("Content-Disposition", "")
        self.assertIn("attachment", disposition)
        self.assertIn(self.contract.name.replace("/", "_"), disposition)
        # Anonymous visitors with the access token download it too.
        self.authenticate(None, None)
        response = self._page(
            f"/my/subscriptions/{self.contract.id}?report_type=pdf&download=true"
            f"&access_token={self.contract.access_token}"
        )
        self.assertIn("attachment", response.headers.get("Content-Disposition", ""))

    def test_chatter_keeps_the_contract_token_with_saved_cards(self):
        self.authenticate("portal_owner", "portal_owner")
        page = self._page(f"/my/subscriptions/{self.contract.id}")
        discussion = html.fromstring(page.content).get_element_by_id("discussion")
        self.assertEqual(discussion.get("data-token"), self.contract.access_token)
        self.assertEqual(discussion.get("data-res_model"), "subscription.contract")

    def test_logged_in_customer_posts_without_token(self):
        self.authenticate("portal_owner", "portal_owner")
        self.make_jsonrpc_request(
            "/mail/message/post",
            {
                "thread_model": "subscription.contract",
                "thread_id": self.contract.id,
                "post_data": {
                    "body": "Can I pay on the 5th?",
                    "message_type": "comment",
                },
            },
        )
        message = self.contract.message_ids.filtered(
            lambda m: "pay on the 5th" in (m.body or "")
        )
        self.assertEqual(message.author_id, self.portal_user.partner_id)

    def test_stranger_cannot_post_on_the_contract(self):
        self.authenticate("portal_other", "portal_other")
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "thread_model": "subscription.contract",
                "thread_id": self.contract.id,
                "post_data": {"body": "Spam", "message_type": "comment"},
            },
        }
        response = self.url_open(
            "/mail/message/post",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        self.assertIn("error", response.json())
        self.assertFalse(
            self.contract.message_ids.filtered(lambda m: "Spam" in (m.body or ""))
        )

    def test_breadcrumb_names_the_contract(self):
        self.authenticate("portal_owner", "portal_owner")
        page = self._page(f"/my/subscriptions/{self.contract.id}")
        crumbs = html.fromstring(page.content).xpath(
            "//ol[contains(@class, 'o_portal_submenu')]"
        )[0]
        text = crumbs.text_content()
        self.assertIn(self.contract.name, text)
        self.assertNotIn(self.invoice.name, text)
        listing = self._page("/my/subscriptions")
        crumbs = html.fromstring(listing.content).xpath(
            "//ol[contains(@class, 'o_portal_submenu')]"
        )[0]
        self.assertNotIn(self.contract.name, crumbs.text_content())

    def test_malformed_urls_as_customer(self):
        self.authenticate("portal_owner", "portal_owner")
        cid = self.contract.id
        self._get_all(
            [
                "/my/subscriptions/abc",
                "/my/subscriptions/-1",
                "/my/subscriptions/0",
                f"/my/subscriptions/{HUGE}",
                "/my/subscriptions/2147483648",
                f"/my/subscriptions/page/{HUGE}",
                "/my/subscriptions/page/-3",
                "/my/subscriptions/page/abc",
                f"/my/subscriptions/{cid}?access_token=%C3%A9%C3%A9",
                f"/my/subscriptions/{cid}?access_token=abc&report_type=pdf",
                f"/my/subscriptions/{cid}?report_type=xml",
                f"/my/subscriptions/{cid}?message=<script>alert(1)</script>",
                f"/my/subscriptions/{cid}?access_token="
                f"{self.other_contract.access_token}",
                f"/my/subscriptions/{self.other_contract.id}",
                f"/my/subscriptions/{self.other_contract.id}?report_type=pdf",
            ]
        )
        other = self.url_open(f"/my/subscriptions/{self.other_contract.id}")
        self.assertNotIn(self.other_contract.name, other.text)
        page = self.url_open(f"/my/subscriptions/{cid}?message=<b>x</b>")
        self.assertNotIn("<b>x</b>", page.text)

    def test_malformed_urls_as_anonymous(self):
        cid = self.contract.id
        self._get_all(
            [
                "/my/subscriptions",
                f"/my/subscriptions/{cid}",
                f"/my/subscriptions/{cid}?access_token=",
                f"/my/subscriptions/{cid}?access_token=%00",
                f"/my/subscriptions/{cid}?access_token=%C3%A9",
                f"/my/subscriptions/{HUGE}?access_token=abc",
                f"/my/subscriptions/{cid}?access_token="
                f"{self.other_contract.access_token}&report_type=pdf",
            ]
        )
        page = self.url_open(
            f"/my/subscriptions/{cid}?access_token={self.other_contract.access_token}"
        )
        self.assertNotIn(self.contract.name, page.text)
        page = self._page(
            f"/my/subscriptions/{cid}?access_token={self.contract.access_token}"
        )
        self.assertIn(self.contract.name, page.text)
        # Anonymous visitors are shown no saved card.
        self.assertNotIn("o_subscription_card_form", page.text)

    def test_card_form_malformed_input(self):
        self.authenticate("portal_owner", "portal_owner")
        cid = self.contract.id
        with self.assertNoLogs(level=logging.WARNING):
            for token_id in ("abc", "-5", "0", HUGE, "2147483648", "", "1.5"):
                response = self.url_open(
                    f"/my/subscriptions/{cid}/card",
                    data={"token_id": token_id, "csrf_token": self._csrf()},
                )
                self._assert_clean(response, token_id)
                self.assertIn("card_refused", response.url, token_id)
            for contract_id in (HUGE, "2147483648"):
                response = self.url_open(
                    f"/my/subscriptions/{contract_id}/card",
                    data={"token_id": self.token.id, "csrf_token": self._csrf()},
                )
                self._assert_clean(response, contract_id)
            # Another customer's card, another customer's contract.
            response = self.url_open(
                f"/my/subscriptions/{cid}/card",
                data={"token_id": self.other_token.id, "csrf_token": self._csrf()},
            )
            self.assertIn("card_refused", response.url)
            response = self.url_open(
                f"/my/subscriptions/{self.other_contract.id}/card",
                data={"token_id": self.token.id, "csrf_token": self._csrf()},
            )
            self._assert_clean(response, "other contract")
        self.assertEqual(self.contract.payment_token_id, self.token)
        self.assertFalse(self.other_contract.payment_token_id)
        self.assertEqual(self.other_contract.payment_method, "transfer")

    def test_card_form_only_on_card_contracts(self):
        transfer = self._create_contract(
            date_start="2027-02-01", products=self.product_hosting
        )
        transfer.action_start()
        self.authenticate("portal_owner", "portal_owner")
        page = self._page(f"/my/subscriptions/{transfer.id}")
        self.assertNotIn("o_subscription_card_form", page.text)
        response = self.url_open(
            f"/my/subscriptions/{transfer.id}/card",
            data={"token_id": self.token.id, "csrf_token": self._csrf()},
        )
        self.assertIn("card_refused", response.url)
        self.assertEqual(transfer.payment_method, "transfer")
        self.assertFalse(transfer.payment_token_id)
