from lxml import etree

from odoo.tests import Form, tagged

from ..models.subscription_plan_label import billing_rule_label, commitment_label
from .common import SubscriptionCommon


@tagged("post_install", "-at_install")
class TestBillingLabels(SubscriptionCommon):
    """Frequencies and durations read as words, never "1 Months"."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"]._load_module_terms(
            ["subscription_billing"], ["fr_FR"], overwrite=True
        )

    def _rules(self, lang):
        env = self.env(context=dict(self.env.context, lang=lang))
        return [
            billing_rule_label(env, interval, unit)
            for interval, unit in (
                (1, "month"),
                (3, "month"),
                (1, "year"),
                (2, "week"),
                (10, "day"),
            )
        ]

    def test_billing_rule_in_english_and_french(self):
        self.assertEqual(
            self._rules("en_US"),
            ["Monthly", "Every 3 months", "Yearly", "Every 2 weeks", "Every 10 days"],
        )
        self.assertEqual(
            self._rules("fr_FR"),
            [
                "Tous les mois",
                "Tous les 3 mois",
                "Tous les ans",
                "Toutes les 2 semaines",
                "Tous les 10 jours",
            ],
        )

    def test_durations_in_english_and_french(self):
        for lang, expected in (
            ("en_US", ["12 months", "1 year", "1 month", "Open-ended"]),
            ("fr_FR", ["12 mois", "1 an", "1 mois", "Sans engagement"]),
        ):
            env = self.env(context=dict(self.env.context, lang=lang))
            self.assertEqual(
                [
                    commitment_label(env, 12, "month"),
                    commitment_label(env, 1, "year"),
                    commitment_label(env, 1, "month"),
                    commitment_label(env, 0, "month"),
                ],
                expected,
            )

    def test_contract_fields_follow_the_user_language(self):
        contract = self._create_contract(plan=self.plan_quarterly)
        contract.write(
            {
                "commitment_length": 1,
                "commitment_unit": "year",
                "renewal_length": 0,
            }
        )
        self.assertEqual(contract.billing_rule_label, "Every 3 months")
        self.assertEqual(contract.commitment_label, "1 year")
        self.assertEqual(contract.renewal_term_label, "Same as the commitment")
        french = contract.with_context(lang="fr_FR")
        self.assertEqual(french.billing_rule_label, "Tous les 3 mois")
        self.assertEqual(french.commitment_label, "1 an")
        self.assertEqual(french.renewal_term_label, "Identique à l'engagement")
        with Form(contract) as form:
            form.billing_interval = 1
            form.billing_unit = "year"
            self.assertEqual(form.billing_rule_label, "Yearly")

    def test_unit_labels_read_well_after_any_number(self):
        units = dict(
            self.env["subscription.contract"]
            ._fields["billing_unit"]
            ._description_selection(self.env)
        )
        self.assertEqual(units["month"], "Month(s)")
        for model in ("subscription.contract", "subscription.plan"):
            for field in ("commitment_unit", "renewal_unit"):
                labels = dict(
                    self.env[model]._fields[field]._description_selection(self.env)
                )
                self.assertEqual(labels, {"month": "Month(s)", "year": "Year(s)"})

    def test_form_shows_words_where_the_rule_is_not_editable(self):
        arch = self.env["subscription.contract"].get_view(
            self.env.ref("subscription_billing.subscription_contract_view_form").id
        )["arch"]
        row = etree.fromstring(arch).xpath("//div[@name='billing_rule']")[0]
        editable = "state not in ('draft', 'active', 'suspended')"
        # Inputs and the grey words where the rule can be edited; the words
        # alone where it cannot (closed, cancelled).
        self.assertEqual(
            [
                (field.get("name"), field.get("invisible"))
                for field in row.iter("field")
            ],
            [
                ("billing_interval", editable),
                ("billing_unit", editable),
                ("billing_rule_label", editable),
                ("billing_rule_label", "state in ('draft', 'active', 'suspended')"),
            ],
        )

    def test_card_expiry_in_english_and_french(self):
        provider = self.env.ref("payment.payment_provider_demo")
        token = (
            self.env["payment.token"]
            .sudo()
            .create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": self.env.ref(
                        "payment_demo.payment_method_demo"
                    ).id,
                    "payment_details": "4242",
                    "partner_id": self.customer.id,
                    "provider_ref": "labels-card",
                    "card_expiry": "2026-08-10",
                }
            )
        )
        self.assertEqual(token._get_card_expiry_label(), "08/2026")
        self.assertEqual(token._get_card_expired_label(), "Expired 08/2026")
        french = token.with_context(lang="fr_FR")
        self.assertEqual(french._get_card_expiry_label(), "08/2026")
        self.assertEqual(french._get_card_expired_label(), "Expirée en 08/2026")
