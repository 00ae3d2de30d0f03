from freezegun import freeze_time
from lxml import html

from odoo import Command
from odoo.tests import HttpCase, tagged

from .common import PaymentCommon


@tagged("post_install", "-at_install")
class TestPortalContent(PaymentCommon, HttpCase):
    """What a customer reads on the contract page and the /my home."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = cls._create_portal_user(
            "content_customer", cls.customer, "claire@martin.example", "Claire Martin"
        )
        cls.contract = cls._create_contract(
            date_start="2027-01-01",
            line_ids=[
                Command.create(
                    {
                        "product_id": cls.product_maintenance.id,
                        "price_unit": 250.0,
                        "discount": 10.0,
                    }
                )
            ],
        )
        cls.contract.action_start()
        with freeze_time("2027-01-01"):
            cls.invoice = cls.contract._generate_invoices()

    def _page(self, url):
        self.authenticate("content_customer", "content_customer")
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200, url)
        return response.text, html.fromstring(response.content)

    def test_lines_show_discount_and_tax_summary(self):
        text, tree = self._page(f"/my/subscriptions/{self.contract.id}")
        lines = tree.xpath("//table[contains(@class, 'o_subscription_lines')]")[0]
        headers = [th.text_content().strip() for th in lines.xpath(".//th")]
        self.assertIn("Disc.%", headers)
        row = [td.text_content().strip() for td in lines.xpath(".//tbody/tr[1]/td")]
        self.assertIn("10.00%", row)
        self.assertIn("225.00", row[-1])
        totals = tree.xpath("//table[contains(@class, 'o_subscription_totals')]")[0]
        summary = totals.text_content()
        self.assertIn("Untaxed Amount", summary)
        self.assertIn("270.00", summary)  # 225.00 + 20% VAT
        self.assertIn("tax incl.", text)
        address = tree.xpath("//div[@id='subscription_content']//address")[0]
        address = address.text_content()
        self.assertIn("Boulangerie Martin", address)

    def test_transfer_payer_sees_bank_details_not_cards(self):
        text, tree = self._page(f"/my/subscriptions/{self.contract.id}")
        self.assertTrue(
            tree.xpath("//div[contains(@class, 'o_subscription_transfer')]")
        )
        self.assertFalse(tree.xpath("//div[contains(@class, 'o_subscription_card')]"))
        self.assertIn("Pay by Bank Transfer", text)

    def test_card_payer_sees_the_card(self):
        token = self._token(self.customer)
        self.contract.write({"payment_method": "card", "payment_token_id": token.id})
        text, tree = self._page(f"/my/subscriptions/{self.contract.id}")
        card = tree.xpath("//p[contains(@class, 'o_subscription_current_card')]")[0]
        self.assertIn("4242", card.text_content())
        self.assertIn(token.payment_method_id.name, card.text_content())
        self.assertFalse(
            tree.xpath("//div[contains(@class, 'o_subscription_transfer')]")
        )

    def test_suspended_contract_says_why_and_no_next_invoice(self):
        self.contract._suspend_for_non_payment(self.invoice.invoice_date_due)
        text, tree = self._page(f"/my/subscriptions/{self.contract.id}")
        alert = tree.xpath("//div[contains(@class, 'o_subscription_suspended')]")[0]
        self.assertIn("because invoices are overdue", alert.text_content())
        self.assertFalse(
            tree.xpath("//*[contains(@class, 'o_subscription_next_invoice')]")
        )
        listing, __ = self._page("/my/subscriptions")
        self.assertNotIn(
            self.env["ir.qweb.field.date"].value_to_html(
                self.contract.next_invoice_date, {}
            ),
            listing,
        )

    def test_company_shown_when_several_companies(self):
        text, __ = self._page("/my/subscriptions")
        self.assertNotIn("<th>Company</th>", text)
        foreign = self._contract_in_other_company()
        text, tree = self._page("/my/subscriptions")
        self.assertIn("<th>Company</th>", text)
        self.assertIn("Other Co", text)
        text, __ = self._page(f"/my/subscriptions/{foreign.id}")
        self.assertIn("Invoiced by:", text)
        self.assertIn("Other Co", text)

    def test_home_tile_uses_a_line_icon(self):
        text, __ = self._page("/my/home")
        self.assertIn("/subscription_billing/static/src/img/subscription.svg", text)
        self.assertNotIn("/subscription_billing/static/description/icon.png", text)

    def test_contract_pdf_has_discount_and_signatures(self):
        html_report = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "subscription_billing.action_report_subscription_contract",
                self.contract.ids,
            )[0]
            .decode()
        )
        self.assertIn("Disc.%", html_report)
        self.assertIn("o_subscription_signatures", html_report)
        self.assertIn("Read and approved", html_report)
        self.assertIn("Untaxed Amount", html_report)


@tagged("post_install", "-at_install")
class TestContractLists(PaymentCommon):
    def test_running_mrr_total_ignores_draft_and_closed(self):
        running = self._create_contract(date_start="2027-01-01")
        running.action_start()
        draft = self._create_contract(
            date_start="2027-01-01", products=self.product_hosting
        )
        quarterly = self._create_contract(
            plan=self.plan_quarterly,
            products=self.product_hosting,
            date_start="2027-01-01",
        )
        quarterly.action_start()
        contracts = running | draft | quarterly
        self.assertEqual(draft.mrr_running, 0.0)
        self.assertEqual(running.mrr_running, running.mrr)
        total = contracts.read_group(
            [("id", "in", contracts.ids)], ["mrr_running:sum"], []
        )[0]["mrr_running"]
        self.assertAlmostEqual(total, running.mrr + quarterly.mrr, places=2)
        self.assertAlmostEqual(quarterly.mrr, 10.0, places=2)  # 30 a quarter
        quarterly._close(self.close_reason, "2027-02-01")
        self.assertEqual(quarterly.mrr_running, 0.0)

    def test_billing_rule_in_words(self):
        self.assertEqual(self.plan_monthly.billing_rule_label, "Monthly")
        self.assertEqual(self.plan_quarterly.billing_rule_label, "Every 3 months")
        self.assertEqual(self.plan_yearly.billing_rule_label, "Yearly")
        self.assertEqual(self.plan_monthly.commitment_label, "12 months")
        self.assertEqual(self.plan_quarterly.commitment_label, "Open-ended")
