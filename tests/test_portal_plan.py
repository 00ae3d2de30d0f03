from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.http import Request
from odoo.tests import HttpCase, tagged

from .common import PaymentCommon
from .selfservice_common import load_french


class PlanChangeCommon(PaymentCommon):
    """A monthly plan (12-month tacit term) whose customers may move online to
    Pro (open-ended, 250.00), Small (open-ended, 50.00) or Pro 24 (250.00,
    24-month commitment)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Product = cls.env["product.product"]
        Plan = cls.env["subscription.plan"]
        cls.product_pro = Product.create(
            {"name": "Pro", "type": "service", "list_price": 250.0}
        )
        cls.product_small = Product.create(
            {"name": "Small", "type": "service", "list_price": 50.0}
        )
        monthly = {"billing_interval": 1, "billing_unit": "month", "company_id": False}
        cls.plan_pro = Plan.create(
            dict(monthly, name="Pro", portal_product_id=cls.product_pro.id)
        )
        cls.plan_small = Plan.create(
            dict(monthly, name="Small", portal_product_id=cls.product_small.id)
        )
        cls.plan_pro_24 = Plan.create(
            dict(
                monthly,
                name="Pro 24",
                portal_product_id=cls.product_pro.id,
                commitment_length=24,
                commitment_unit="month",
            )
        )
        # Same billing, but not offered to customers of the monthly plan.
        cls.plan_hidden = Plan.create(
            dict(monthly, name="Hidden", portal_product_id=cls.product_pro.id)
        )
        cls.plan_monthly.write(
            {
                "portal_product_id": cls.product_maintenance.id,
                "portal_target_plan_ids": [
                    fields.Command.set(
                        (cls.plan_pro | cls.plan_small | cls.plan_pro_24).ids
                    )
                ],
            }
        )
        cls.portal_user = cls._create_portal_user(
            "plan_customer", cls.customer, "claire@martin.example", "Claire Martin"
        )
        cls.today = fields.Date.context_today(cls.env["res.users"])
        # Ten days into its second month: the current period is half billed.
        cls.contract = cls._create_contract(
            date_start=cls.today - relativedelta(months=1, days=10),
            user_id=cls.user_sales.id,
        )
        cls.contract.action_start()
        cls.contract._generate_invoices()
        cls.end = cls.contract.date_end


@tagged("post_install", "-at_install")
class TestPortalPlanChange(PlanChangeCommon, HttpCase):
    """Customers move to another plan on the portal: the amounts first, a
    higher one at once and prorated, a lower one later, never a longer
    commitment without their yes, never someone else's contract."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_portal_user("plan_stranger")

    def _get(self, url):
        return self.url_open(url, allow_redirects=True)

    def _post(self, url, **data):
        data.setdefault("csrf_token", Request.csrf_token(self))
        return self.url_open(url, data=data, allow_redirects=True)

    def _amendment_moves(self):
        return self.env["account.move"].search(
            [
                ("subscription_contract_id", "=", self.contract.id),
                ("subscription_amendment", "=", True),
            ]
        )

    def test_plan_setting_refuses_targets_billed_otherwise(self):
        with self.assertRaises(ValidationError):
            self.plan_monthly.portal_target_plan_ids |= self.plan_quarterly

    def test_upgrade_applies_at_once_invoiced_prorated(self):
        base = f"/my/subscriptions/{self.contract.id}"
        self.authenticate("plan_customer", "plan_customer")
        self.assertIn("o_subscription_plan", self._get(base).text)
        choose = self._get(f"{base}/plan")
        self.assertIn("Pro 24", choose.text)
        self.assertNotIn("Hidden", choose.text)
        preview = self._get(f"{base}/plan?plan_id={self.plan_pro.id}")
        self.assertIn("o_subscription_plan_box", preview.text)
        self.assertIn("250.00", preview.text)
        self.assertNotIn("o_subscription_plan_accept", preview.text)
        # A preview changes nothing.
        self.assertEqual(self.contract.plan_id, self.plan_monthly)
        self.assertFalse(self._amendment_moves())
        # By hand: the current period runs from a month after the start to the
        # day before two months after it; today and the days left in it are
        # billed 250.00 instead of 100.00, by the day.
        start = self.contract.date_start
        period_start = start + relativedelta(months=1)
        period_end = start + relativedelta(months=2, days=-1)
        days = (period_end - period_start).days + 1
        left = (period_end - self.today).days + 1
        expected = round(250.0 * left / days, 2) - round(100.0 * left / days, 2)
        self.assertIn(f"{expected:,.2f}", preview.text)
        done = self._post(f"{base}/plan", plan_id=str(self.plan_pro.id))
        self.assertIn("o_subscription_plan_done", done.text)
        self.assertEqual(self.contract.plan_id, self.plan_pro)
        self.assertEqual(self.contract.recurring_amount_untaxed, 250.0)
        self.assertEqual(self.contract.current_line_ids.product_id, self.product_pro)
        # The commitment of the signed contract stays (Pro has none).
        self.assertEqual(self.contract.date_end, self.end)
        self.assertTrue(self.contract.auto_renew)
        moves = self._amendment_moves()
        self.assertEqual(len(moves), 1)
        self.assertEqual(moves.move_type, "out_invoice")
        self.assertAlmostEqual(moves.amount_untaxed, expected, places=2)
        notice = self.env["mail.mail"].search(
            [
                ("model", "=", self.contract._name),
                ("res_id", "=", self.contract.id),
                ("recipient_ids", "in", self.customer.ids),
                ("subject", "ilike", "is amended"),
            ]
        )
        self.assertEqual(len(notice), 1)
        self.assertTrue(
            self.contract.message_ids.filtered(
                lambda m: (
                    "moved from the plan" in str(m.body)
                    and "Claire Martin" in str(m.body)
                )
            )
        )

    def test_downgrade_at_the_end_of_the_invoiced_period(self):
        next_start = self.contract.next_period_start
        self.assertGreater(next_start, self.today)
        self.authenticate("plan_customer", "plan_customer")
        url = f"/my/subscriptions/{self.contract.id}/plan"
        preview = self._get(f"{url}?plan_id={self.plan_small.id}")
        self.assertIn(next_start.strftime("%m/%d/%Y"), preview.text)
        self._post(url, plan_id=str(self.plan_small.id))
        self.assertEqual(self.contract.plan_id, self.plan_small)
        self.assertEqual(self.contract.recurring_amount_untaxed, 50.0)
        new_line = self.contract.line_ids.filtered(
            lambda ln: ln.product_id == self.product_small
        )
        self.assertEqual(new_line.date_start, next_start)
        old_line = self.contract.line_ids - new_line
        self.assertEqual(old_line.date_end, next_start - relativedelta(days=1))
        # Nothing credited for the period already invoiced.
        self.assertFalse(self._amendment_moves())

    def test_downgrade_at_once_with_a_credit_when_the_company_says_so(self):
        self.company.subscription_credit_decrease = True
        self.authenticate("plan_customer", "plan_customer")
        url = f"/my/subscriptions/{self.contract.id}/plan"
        self._post(url, plan_id=str(self.plan_small.id))
        self.assertEqual(self.contract.current_line_ids.product_id, self.product_small)
        credit = self._amendment_moves()
        self.assertEqual(credit.move_type, "out_refund")

    def test_plan_not_offered_is_refused_clearly(self):
        self.authenticate("plan_customer", "plan_customer")
        url = f"/my/subscriptions/{self.contract.id}/plan"
        for plan_id in (self.plan_hidden.id, self.plan_quarterly.id, "abc", 0):
            page = self._get(f"{url}?plan_id={plan_id}")
            self.assertEqual(page.status_code, 200)
            self.assertIn("o_subscription_plan_error", page.text)
            self.assertIn("cannot be chosen online", page.text)
            self.assertNotIn("o_subscription_plan_confirm", page.text)
            done = self._post(url, plan_id=str(plan_id))
            self.assertEqual(done.status_code, 200)
            self.assertIn("cannot be chosen online", done.text)
        self.assertEqual(self.contract.plan_id, self.plan_monthly)
        self.assertFalse(self._amendment_moves())

    def test_longer_commitment_needs_the_consumer_yes(self):
        self.assertEqual(self.contract.customer_type, "b2c")
        self.authenticate("plan_customer", "plan_customer")
        url = f"/my/subscriptions/{self.contract.id}/plan"
        new_end = self.today + relativedelta(months=24, days=-1)
        preview = self._get(f"{url}?plan_id={self.plan_pro_24.id}")
        self.assertIn("o_subscription_plan_commitment", preview.text)
        self.assertIn("o_subscription_plan_accept", preview.text)
        self.assertIn(new_end.strftime("%m/%d/%Y"), preview.text)
        refused = self._post(url, plan_id=str(self.plan_pro_24.id))
        self.assertEqual(refused.status_code, 200)
        self.assertIn("o_subscription_plan_refused", refused.text)
        self.assertIn("Tick the box to accept the commitment", refused.text)
        self.assertEqual(self.contract.plan_id, self.plan_monthly)
        self.assertEqual(self.contract.date_end, self.end)
        self.assertFalse(self._amendment_moves())
        done = self._post(url, plan_id=str(self.plan_pro_24.id), accept_commitment="1")
        self.assertIn("o_subscription_plan_done", done.text)
        self.assertEqual(self.contract.plan_id, self.plan_pro_24)
        self.assertEqual(self.contract.date_end, new_end)
        self.assertEqual(self.contract.commitment_length, 24)
        self.assertEqual(len(self._amendment_moves()), 1)
        self.assertTrue(
            self.contract.message_ids.filtered(
                lambda m: "accepted the commitment" in str(m.body)
            )
        )

    def test_nobody_else_changes_the_plan(self):
        base = f"/my/subscriptions/{self.contract.id}/plan"
        self.contract._portal_ensure_token()
        self.assertIn(self._get(f"{base}?access_token=wrong").status_code, (403, 404))
        self.authenticate("plan_stranger", "plan_stranger")
        self.assertEqual(self._get(base).status_code, 403)
        response = self._post(base, plan_id=str(self.plan_pro.id))
        self.assertEqual(response.status_code, 403)
        response = self._post(
            base, plan_id=str(self.plan_pro.id), access_token="x" * 40
        )
        self.assertEqual(response.status_code, 403)
        for url in (
            "/my/subscriptions/abc/plan",
            "/my/subscriptions/0/plan",
            f"/my/subscriptions/{2**31}/plan",
        ):
            self.assertEqual(self._get(url).status_code, 404, url)
        self.authenticate("sub_user", "sub_user")
        self.assertEqual(self._get(base).status_code, 403)
        self.assertEqual(self.contract.plan_id, self.plan_monthly)
        # The token holder may.
        self.authenticate(None, None)
        token = self.contract.access_token
        self._post(base, plan_id=str(self.plan_pro.id), access_token=token)
        self.assertEqual(self.contract.plan_id, self.plan_pro)


@tagged("post_install", "-at_install")
class TestPortalPlanChangeTour(PlanChangeCommon, HttpCase):
    """In Chromium, in English and in French: move to a plan with a longer
    commitment, refused until it is accepted."""

    def _tour(self, lang):
        self.start_tour(
            "/my", f"subscription_plan_change_{lang}", login="plan_customer"
        )
        self.assertEqual(self.contract.plan_id, self.plan_pro_24)
        self.assertEqual(self.contract.recurring_amount_untaxed, 250.0)

    def test_plan_change_in_english(self):
        self._tour("en")

    def test_plan_change_in_french(self):
        load_french(self.env)
        self.portal_user.lang = "fr_FR"
        self.customer.lang = "fr_FR"
        self._tour("fr")
