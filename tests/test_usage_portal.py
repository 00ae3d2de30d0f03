from datetime import timedelta

from lxml import html

from odoo import Command, fields
from odoo.tests import HttpCase, tagged

from .common import PaymentCommon


@tagged("post_install", "-at_install")
class TestUsagePortal(PaymentCommon, HttpCase):
    """The customer sees the usage of the current period and its amount."""

    def test_portal_shows_the_usage_so_far(self):
        self._create_portal_user(
            "usage_customer", self.customer, "u@martin.example", "Ursula Martin"
        )
        today = self.company._subscription_today()
        copies = self.env["product.product"].create(
            {"name": "Copies", "type": "service", "list_price": 0.10}
        )
        contract = self._create_contract(
            date_start=fields.Date.to_string(today - timedelta(days=3)),
            line_ids=[
                Command.create(
                    {
                        "product_id": copies.id,
                        "billing_type": "metered",
                        "included_quantity": 1000,
                    }
                )
            ],
        )
        contract.action_start()
        self.env["subscription.usage"].record_usage(
            [
                {
                    "contract_line_id": contract.line_ids.id,
                    "date": f"{today - timedelta(days=1)} 12:00:00",
                    "quantity": 1250,
                    "idempotency_key": "p1",
                }
            ]
        )
        self.authenticate("usage_customer", "usage_customer")
        response = self.url_open(f"/my/subscriptions/{contract.id}")
        self.assertEqual(response.status_code, 200)
        tree = html.fromstring(response.content)
        block = tree.xpath("//div[contains(@class, 'o_subscription_usage')]")
        self.assertTrue(block, "the usage block is shown")
        text = " ".join(block[0].text_content().split())
        self.assertIn("Usage this period", text)
        self.assertIn("1,250.00", text)
        self.assertIn("1,000.00", text)
        self.assertIn("25.00", text)  # 250 billable copies at 0.10
