from freezegun import freeze_time

from odoo.tests import HttpCase, tagged

from .common import PaymentCommon


@tagged("post_install", "-at_install")
class TestPortalTour(PaymentCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = cls._create_portal_user(
            "tour_customer", cls.customer, "claire@martin.example", "Claire Martin"
        )
        cls.card_a = cls._token(cls.customer)
        cls.card_b = cls._token(cls.customer)
        cls.card_b.write({"payment_details": "1111", "provider_ref": "demo-b"})
        cls.company.partner_id.bank_ids = [
            (
                0,
                0,
                {
                    "acc_number": "FR7630006000011234567890189",
                    "allow_out_payment": True,
                },
            )
        ]
        cls.card_contract = cls._create_contract(
            date_start="2027-01-01",
            payment_method="card",
            payment_token_id=cls.card_a.id,
        )
        cls.card_contract.action_start()
        cls.transfer_contract = cls._create_contract(
            plan=cls.plan_quarterly,
            products=cls.product_hosting,
            date_start="2027-01-01",
        )
        cls.transfer_contract.action_start()
        with freeze_time("2027-01-01"):
            cls.invoice = cls.transfer_contract._generate_invoices()

    def test_customer_changes_the_card_and_pays_an_invoice(self):
        self.assertEqual(self.invoice.payment_state, "not_paid")
        self.start_tour(
            "/my/subscriptions", "subscription_portal_tour", login="tour_customer"
        )
        self.assertEqual(self.card_contract.payment_token_id, self.card_b)
        self.assertEqual(self.card_contract.payment_method, "card")
        self.assertTrue(self.invoice.currency_id.is_zero(self.invoice.amount_residual))
        self.assertIn(self.invoice.payment_state, ("paid", "in_payment"))
