from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import PaymentCommon
from .selfservice_common import load_french


@tagged("post_install", "-at_install")
class TestPortalSelfServiceTour(PaymentCommon, HttpCase):
    """In Chromium, in English and in French: a consumer ends a subscription
    in three steps, or refuses its renewal."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = cls._create_portal_user(
            "tour_self", cls.customer, "claire@martin.example", "Claire Martin"
        )
        today = fields.Date.context_today(cls.env["res.users"])
        cls.contract = cls._create_contract(
            date_start=today - relativedelta(months=1), user_id=cls.user_sales.id
        )
        cls.contract.action_start()

    def _french(self):
        load_french(self.env)
        self.portal_user.lang = "fr_FR"
        self.customer.lang = "fr_FR"

    def _confirmation(self):
        return self.env["mail.mail"].search(
            [
                ("model", "=", self.contract._name),
                ("res_id", "=", self.contract.id),
                ("recipient_ids", "in", self.customer.ids),
            ],
            order="id desc",
            limit=1,
        )

    def _check_ended(self, date_format):
        self.assertTrue(self.contract.renewal_refused)
        self.assertEqual(self.contract.termination_date, self.contract.date_end)
        self.assertIn(
            self.contract.date_end.strftime(date_format), self._confirmation().subject
        )

    def test_end_in_english(self):
        self.start_tour("/my", "subscription_selfservice_end_en", login="tour_self")
        self._check_ended("%m/%d/%Y")

    def test_end_in_french(self):
        self._french()
        self.start_tour("/my", "subscription_selfservice_end_fr", login="tour_self")
        self._check_ended("%d/%m/%Y")
        self.assertIn("prend fin le", self._confirmation().subject)

    def test_refuse_in_english(self):
        self.start_tour("/my", "subscription_selfservice_refuse_en", login="tour_self")
        self._check_ended("%m/%d/%Y")
        self.assertIn("refusal of the renewal", self._confirmation().body_html)

    def test_refuse_in_french(self):
        self._french()
        self.start_tour("/my", "subscription_selfservice_refuse_fr", login="tour_self")
        self._check_ended("%d/%m/%Y")
        self.assertIn("refus de la reconduction", self._confirmation().body_html)

    def _quantity_tour(self, lang):
        self.plan_monthly.portal_quantity_change = True
        self.contract._generate_invoices()
        self.start_tour(
            "/my", f"subscription_selfservice_quantity_{lang}", login="tour_self"
        )
        self.assertEqual(self.contract.recurring_amount_untaxed, 300.0)
        self.assertEqual(self.contract.current_line_ids.quantity, 3)

    def test_quantity_in_english(self):
        self._quantity_tour("en")

    def test_quantity_in_french(self):
        self._french()
        self._quantity_tour("fr")

    def _payment_tour(self, lang):
        self.start_tour(
            "/my", f"subscription_selfservice_payment_{lang}", login="tour_self"
        )
        self.assertEqual(self.contract.payment_method, "transfer")
        mandate = self.env["subscription.sepa.mandate"].search(
            [("partner_id", "=", self.customer.id)]
        )
        self.assertEqual(mandate.state, "active")
        # The acceptance is recorded in the customer's language.
        signed = {"en": "Signed online", "fr": "Signé en ligne"}[lang]
        self.assertIn(signed, " ".join(mandate.message_ids.mapped("body")))

    def test_payment_in_english(self):
        self._payment_tour("en")

    def test_payment_in_french(self):
        self._french()
        self._payment_tour("fr")
