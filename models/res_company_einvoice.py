from odoo import _, models


class ResCompany(models.Model):
    _inherit = "res.company"

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
        if not partner.bank_ids:
            issues.append(
                _(
                    "The field 'Recipient Bank' is required on the invoices: add a "
                    "bank account (IBAN) to %(company)s.",
                    company=self.display_name,
                )
            )
        return [issue for issue in issues if issue]
