from odoo import _, fields, models

# Business process of the French reform (BT-23): invoices of services, of
# goods, or of both.
EINVOICE_PROCESSES = [
    ("S1", "Services"),
    ("B1", "Goods"),
    ("M1", "Goods and services"),
]


class ResCompany(models.Model):
    _inherit = "res.company"

    subscription_einvoice_process = fields.Selection(
        EINVOICE_PROCESSES,
        string="Category of Operations",
        default="S1",
        required=True,
        help="Printed on the invoices and sent as the business process (BT-23) "
        "of the e-invoices: subscriptions are services.",
    )
    subscription_penalty_points = fields.Float(
        string="Late-payment Penalty Rate",
        default=10.0,
        digits=(4, 2),
        help="Points added to the ECB refinancing rate: the late-payment "
        "penalties of business invoices (French Commercial Code L441-10: "
        "10 points unless agreed otherwise, at least three times the legal "
        "interest rate).",
    )
    subscription_early_discount = fields.Char(
        string="Early-payment Discount",
        translate=True,
        help="The discount granted for early payment, e.g. '1% for payment "
        "within 8 days'. Empty: 'No discount for early payment' is printed.",
    )
    subscription_vat_on_debits = fields.Boolean(
        string="VAT on Debits",
        help="The company opted to pay the VAT on its services on invoicing "
        "(TVA d'apres les debits): printed on its invoices.",
    )

    def _subscription_get_einvoice_issues(self):
        """What in the company's data stops its e-invoices (Factur-X, UBL), with
        the checks and messages of Odoo's own exporter (account_edi_ubl_cii),
        so that it can be fixed before the first invoice is sent."""
        self.ensure_one()
        if "account.edi.xml.cii" not in self.env:
            return []
        builder = self.env["account.edi.xml.cii"]
        partner = self.partner_id.commercial_partner_id
        issues = [
            builder._check_required_fields(partner, "country_id"),
            builder._check_required_fields(partner, "zip"),
            builder._check_required_fields(self, ["vat"]),
            builder._check_required_fields(partner, ["phone", "mobile"]),
            builder._check_required_fields(self, "email"),
        ]
        if self.country_code == "FR" and not partner._subscription_siren():
            issues.append(
                _(
                    "The SIREN of %(company)s is required on its e-invoices "
                    "(French rules BR-FR-10 and BR-FR-13): fill in its SIRET or "
                    "Company ID.",
                    company=self.display_name,
                )
            )
        if not partner.bank_ids:
            issues.append(
                _(
                    "The field 'Recipient Bank' is required on the invoices: add a "
                    "bank account (IBAN) to %(company)s.",
                    company=self.display_name,
                )
            )
        return [issue for issue in issues if issue]
