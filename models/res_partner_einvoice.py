import re

from odoo import _, fields, models


def siren_of(number):
    """The 9-digit SIREN of a SIREN or SIRET number (spaces allowed), or ""."""
    digits = re.sub(r"\s", "", number or "")
    if re.fullmatch(r"\d{9}|\d{14}", digits):
        return digits[:9]
    return ""


class ResPartner(models.Model):
    _inherit = "res.partner"

    subscription_einvoice_address = fields.Char(
        string="E-invoicing Address",
        help="The address of this company in the directory of the French "
        "e-invoicing reform (scheme 0225), where its e-invoices are delivered: "
        "its SIREN when left empty, else e.g. SIREN_SIRET or SIREN_SERVICE.",
    )

    def _subscription_siren(self):
        """SIREN of the company (French SIRET, else Company ID), or ""."""
        self.ensure_one()
        partner = self.commercial_partner_id
        siret = partner.siret if "siret" in partner._fields else False
        return siren_of(siret) or siren_of(partner.company_registry)

    def _subscription_einvoice_endpoint(self):
        """(address, scheme) of the electronic address (BT-34/BT-49)."""
        self.ensure_one()
        partner = self.commercial_partner_id
        address = partner.subscription_einvoice_address or partner._subscription_siren()
        return (address, "0225") if address else ("", "")

    def _subscription_einvoice_category(self):
        """How the French reform treats invoices to this customer (BAR note):
        B2B for a French business, B2BINT for a foreign one, B2C for a
        consumer (no company, no VAT number, no company ID)."""
        self.ensure_one()
        partner = self.commercial_partner_id
        if not (partner.is_company or partner.vat or partner._subscription_siren()):
            return "B2C"
        if partner.country_id and partner.country_id.code != "FR":
            return "B2BINT"
        return "B2B"

    def _subscription_einvoice_partner_issues(self):
        """What a French business customer lacks for its e-invoices."""
        self.ensure_one()
        partner = self.commercial_partner_id
        if partner._subscription_einvoice_category() != "B2B":
            return []
        if partner._subscription_siren():
            return []
        return [
            _(
                "%(partner)s: the SIREN (or SIRET) of this business customer is "
                "required on its e-invoices (BT-47, French rule BR-FR-11).",
                partner=partner.display_name,
            )
        ]
