from dateutil.relativedelta import relativedelta
from freezegun import freeze_time
from lxml import html

from odoo import fields
from odoo.http import Request
from odoo.tests import HttpCase, tagged

from .common import PaymentCommon

D = fields.Date.to_date


@tagged("post_install", "-at_install")
class TestCardExpiryPortal(PaymentCommon, HttpCase):
    """The customer sees when the saved card expires, and when it has."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = cls._create_portal_user(
            "expiry_customer", cls.customer, "claire@martin.example", "Claire Martin"
        )
        cls.token = cls._token(cls.customer)
        cls.contract = cls._create_contract(
            date_start="2027-01-01",
            payment_method="card",
            payment_token_id=cls.token.id,
        )
        cls.contract.action_start()

    def _card_block(self):
        self.authenticate("expiry_customer", "expiry_customer")
        response = self.url_open(f"/my/subscriptions/{self.contract.id}")
        self.assertEqual(response.status_code, 200)
        tree = html.fromstring(response.content)
        return tree.xpath("//div[contains(@class, 'o_subscription_card')]")[0]

    def test_an_expired_card_cannot_be_chosen(self):
        expired = self._token(self.customer)
        expired.card_expiry = fields.Date.today() - relativedelta(months=1)
        block = self._card_block()
        radio = block.xpath(f".//input[@id='card_{expired.id}']")[0]
        self.assertIsNotNone(radio.get("disabled"))
        self.assertIsNone(
            block.xpath(f".//input[@id='card_{self.token.id}']")[0].get("disabled")
        )
        response = self.url_open(
            f"/my/subscriptions/{self.contract.id}/card",
            data={"token_id": expired.id, "csrf_token": Request.csrf_token(self)},
        )
        self.assertIn("message=card_expired", response.url)
        self.assertIn("This card has expired", response.text)
        self.assertEqual(self.contract.payment_token_id, self.token)

    def test_expiry_is_stored_as_the_end_of_its_month(self):
        self.token.card_expiry = "2027-08-05"
        self.assertEqual(self.token.card_expiry, D("2027-08-31"))
        self.assertEqual(self.token._get_card_expiry_label(), "08/2027")
        self.assertFalse(self.token._is_card_expired(D("2027-08-31")))
        self.assertTrue(self.token._is_card_expired(D("2027-09-01")))

    def test_known_expiry_is_shown(self):
        expiry = fields.Date.today() + relativedelta(years=1, day=31)
        self.token.card_expiry = expiry
        block = self._card_block()
        current = block.xpath(".//p[contains(@class, 'o_subscription_current_card')]")
        text = " ".join(current[0].text_content().split())
        self.assertIn("4242", text)
        self.assertIn(f"(expires {expiry.strftime('%m/%Y')})", text)
        self.assertFalse(block.xpath(".//*[contains(@class, 'text-bg-danger')]"))
        self.assertNotIn("has expired", text)

    def test_unknown_expiry_is_not_shown(self):
        block = self._card_block()
        self.assertIn("4242", block.text_content())
        self.assertNotIn("expire", block.text_content().lower())

    def test_past_expiry_says_expired_in_red(self):
        expiry = fields.Date.today() - relativedelta(months=2, day=31)
        self.token.card_expiry = expiry
        block = self._card_block()
        current = block.xpath(".//p[contains(@class, 'o_subscription_current_card')]")[
            0
        ]
        badge = current.xpath(
            ".//span[contains(@class, 'o_subscription_card_expired')]"
        )
        self.assertIn("text-bg-danger", badge[0].get("class"))
        self.assertEqual(
            " ".join(badge[0].text_content().split()),
            f"Expired {expiry.strftime('%m/%Y')}",
        )
        self.assertIn("This card has expired", current.text_content())
        self.assertNotIn("(expires", current.text_content())


@tagged("post_install", "-at_install")
class TestCardExpiryCharge(PaymentCommon):
    """A card that expired before the charge date is not charged."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The charge runs in a cursor of its own: in tests it shares this one.
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)

    def _expiry_notes(self, invoice):
        return invoice.message_ids.filtered(lambda m: "expired in" in (m.body or ""))

    def test_expired_card_is_not_charged_and_noted_once(self):
        contract, invoice = self._card_contract("done")
        contract.payment_token_id.card_expiry = "2026-12-01"
        self._charge("2027-01-01")
        self.assertFalse(invoice.transaction_ids, "an expired card is not charged")
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertFalse(invoice.card_next_try_date)
        self.assertFalse(invoice.payment_collection_pending)
        notes = self._expiry_notes(invoice)
        self.assertEqual(len(notes), 1)
        self.assertIn("12/2026", notes.body)
        activity = invoice.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.summary, "Card expired")
        self.assertEqual(activity.user_id, self.user_sales)
        # The next runs leave it to the reminders: no second note, no charge.
        self._charge("2027-01-02")
        self.assertEqual(len(self._expiry_notes(invoice)), 1)
        self.assertEqual(len(invoice.activity_ids), 1)
        self.assertFalse(invoice.transaction_ids)
        with freeze_time("2027-01-20"):
            self.assertIn(
                invoice,
                self.env["account.move"].search(
                    self.env["account.move"]._get_reminder_due_domain()
                ),
            )

    def test_customer_emailed_one_activity_per_contract_new_card_charges(self):
        contract, january = self._card_contract("done")
        contract.payment_token_id.card_expiry = "2026-12-01"
        self._charge("2027-01-01")
        mails = self.env["mail.mail"].search(
            [("model", "=", "account.move"), ("res_id", "=", january.id)]
        )
        expired_mail = mails.filtered(lambda m: "card has expired" in m.subject)
        self.assertEqual(len(expired_mail), 1)
        self.assertEqual(expired_mail.recipient_ids, self.customer)
        self.assertIn("ending in <strong>4242</strong>", expired_mail.body_html)
        # February: the card is still expired; the salesperson already has
        # the to-do of this contract, no second one.
        with freeze_time("2027-02-01"):
            february = contract._generate_invoices()
            february._subscription_send()
        self._charge("2027-02-01")
        self.assertFalse(february.transaction_ids)
        self.assertEqual(len(self._expiry_notes(february)), 1)
        self.assertEqual(len((january | february).activity_ids), 1)
        # The customer chooses a valid card: both open invoices are charged
        # to it on the next run.
        new_card = self._token(self.customer)
        new_card.card_expiry = "2029-08-01"
        with freeze_time("2027-02-03"):
            contract.payment_token_id = new_card
        self.assertEqual(
            (january | february).mapped("card_next_try_date"), [D("2027-02-03")] * 2
        )
        self._charge("2027-02-03")
        self.assertEqual((january | february).mapped("payment_state"), ["paid"] * 2)
        self.assertEqual((january | february).transaction_ids.token_id, new_card)

    def test_card_valid_in_its_last_month_is_charged(self):
        contract, invoice = self._card_contract("done")
        contract.payment_token_id.card_expiry = "2027-01-01"  # end of January
        self._charge("2027-01-31")
        self.assertEqual(invoice.transaction_ids.state, "done")
        self.assertFalse(self._expiry_notes(invoice))
        self.assertFalse(invoice.activity_ids)
