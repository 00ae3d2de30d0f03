from lxml import etree

from odoo import _, models
from odoo.tools import cleanup_xml_node, float_repr

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:"
    "ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
# The profile the XML follows, the one the PDF's XMP metadata names
# (fx:ConformanceLevel "EN 16931" in account_edi_ubl_cii's template).
EN16931_GUIDELINE = "urn:cen.eu:en16931:2017"
# Elements that follow, in the CII schema, those this module adds.
AFTER_PARTY_ADDRESS = ("SpecifiedTaxRegistration",)
AFTER_BILLING_PERIOD = (
    "SpecifiedTradeAllowanceCharge",
    "SpecifiedLogisticsServiceCharge",
    "SpecifiedTradePaymentTerms",
    "SpecifiedTradeSettlementHeaderMonetarySummation",
    "InvoiceReferencedDocument",
    "ReceivableSpecifiedTradeAccountingAccount",
)
AFTER_REFERENCED_DOCUMENT = ("ReceivableSpecifiedTradeAccountingAccount",)
AFTER_LINE_PERIOD = (
    "SpecifiedTradeAllowanceCharge",
    "SpecifiedTradeSettlementLineMonetarySummation",
)


def ram(tag):
    return f"{{{NS['ram']}}}{tag}"


def sub(parent, tag, text=None, before=(), **attrs):
    """A new ``ram:tag`` child of ``parent``, placed before its first child
    named in ``before`` (the order of the CII schema), else last."""
    element = etree.Element(ram(tag), attrs, nsmap=parent.nsmap)
    if text is not None:
        element.text = text
    for child in parent:
        if etree.QName(child).localname in before:
            child.addprevious(element)
            return element
    parent.append(element)
    return element


def date_element(parent, tag, day, namespace="udt"):
    element = sub(parent, tag)
    string = etree.SubElement(
        element,
        f"{{{NS[namespace]}}}DateTimeString",
        {"format": "102"},
        nsmap={namespace: NS[namespace]},
    )
    string.text = day.strftime("%Y%m%d")
    return element


class AccountEdiXmlCii(models.AbstractModel):
    _inherit = "account.edi.xml.cii"

    def _export_invoice_constraints(self, invoice, vals):
        constraints = super()._export_invoice_constraints(invoice, vals)
        if invoice.move_type == "out_refund":
            # A credit note is paid back, not paid: no payment instructions
            # (BG-16) are due, and Odoo's refund has no bank account of the
            # company ('Recipient Bank').
            constraints.pop("seller_payment_instructions_1", None)
            constraints.pop("seller_payment_instructions_2", None)
        if invoice.company_id.country_code == "FR":
            company = invoice.company_id.partner_id
            if not company._subscription_siren():
                constraints["subscription_seller_siren"] = _(
                    "The SIREN of %(company)s is required on its e-invoices "
                    "(French rules BR-FR-10 and BR-FR-13): fill in its SIRET or "
                    "Company ID.",
                    company=invoice.company_id.display_name,
                )
            issues = (
                invoice.commercial_partner_id._subscription_einvoice_partner_issues()
            )
            if issues:
                constraints["subscription_buyer_siren"] = issues[0]
        return constraints

    def _export_invoice(self, invoice):
        xml, errors = super()._export_invoice(invoice)
        tree = etree.fromstring(xml)
        self._subscription_complete_cii(tree, invoice)
        return (
            etree.tostring(
                cleanup_xml_node(tree), xml_declaration=True, encoding="UTF-8"
            ),
            errors,
        )

    # === THE XML COMPLETED === #

    def _subscription_complete_cii(self, tree, invoice):
        """Make Odoo's CII an EN 16931 document the French platforms accept:
        the EN 16931 profile (as its XMP says), the French notes and business
        process, SIREN and electronic addresses, the corrected invoice of a
        credit note, the billed periods and net prices that add up."""
        context = tree.find("rsm:ExchangedDocumentContext", NS)
        guideline = context.find("ram:GuidelineSpecifiedDocumentContextParameter", NS)
        guideline.find("ram:ID", NS).text = EN16931_GUIDELINE
        if invoice.company_id.country_code == "FR":
            process = etree.Element(
                ram("BusinessProcessSpecifiedDocumentContextParameter"),
                nsmap=context.nsmap,
            )
            etree.SubElement(process, ram("ID")).text = (
                invoice.company_id.subscription_einvoice_process or "S1"
            )
            guideline.addprevious(process)
            self._subscription_add_notes(tree, invoice)
            self._subscription_set_parties(tree, invoice)
        self._subscription_set_periods(tree, invoice)
        self._subscription_set_net_prices(tree, invoice)
        if invoice.move_type == "out_refund":
            self._subscription_add_corrected_invoice(tree, invoice)

    def _subscription_add_notes(self, tree, invoice):
        document = tree.find("rsm:ExchangedDocument", NS)
        # Odoo writes an empty note when the invoice has no terms: drop it.
        for note in document.findall("ram:IncludedNote", NS):
            if not (note.findtext("ram:Content", "", NS) or "").strip():
                document.remove(note)
        notes = invoice.with_context(
            lang=invoice.partner_id.lang
        )._subscription_legal_notes()
        for code in ("PMT", "PMD", "AAB", "BAR"):
            note = sub(document, "IncludedNote", before=("EffectiveSpecifiedPeriod",))
            sub(note, "Content", notes[code])
            sub(note, "SubjectCode", code)

    def _subscription_set_parties(self, tree, invoice):
        agreement = tree.find(
            "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement", NS
        )
        for role, partner in (
            ("SellerTradeParty", invoice.company_id.partner_id),
            ("BuyerTradeParty", invoice.commercial_partner_id),
        ):
            party = agreement.find(f"ram:{role}", NS)
            siren = partner._subscription_siren()
            legal = party.find("ram:SpecifiedLegalOrganization", NS)
            if legal is not None:
                party.remove(legal)
            if siren:
                legal = etree.Element(
                    ram("SpecifiedLegalOrganization"), nsmap=party.nsmap
                )
                etree.SubElement(legal, ram("ID"), {"schemeID": "0002"}).text = siren
                party.find("ram:Name", NS).addnext(legal)
            address, scheme = partner._subscription_einvoice_endpoint()
            if address:
                uri = sub(
                    party, "URIUniversalCommunication", before=AFTER_PARTY_ADDRESS
                )
                sub(uri, "URIID", address, schemeID=scheme)

    def _subscription_set_periods(self, tree, invoice):
        """The billed period of the document (BG-14) and of each line (BG-26):
        an amendment document has no period of its own, its lines have."""
        settlement = tree.find(
            "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement", NS
        )
        start, end = invoice._subscription_billed_period()
        if start and end and settlement.find("ram:BillingSpecifiedPeriod", NS) is None:
            period = sub(
                settlement, "BillingSpecifiedPeriod", before=AFTER_BILLING_PERIOD
            )
            date_element(period, "StartDateTime", start)
            date_element(period, "EndDateTime", end)
        lines = invoice.invoice_line_ids.filtered(
            lambda line: line.display_type == "product"
        )
        by_index = dict(enumerate(lines, start=1))
        for item in tree.iterfind(
            "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem", NS
        ):
            index = item.findtext(
                "ram:AssociatedDocumentLineDocument/ram:LineID", "", NS
            )
            line = by_index.get(int(index)) if index.isdigit() else None
            if not line or not (
                line.subscription_date_from and line.subscription_date_to
            ):
                continue
            line_settlement = item.find("ram:SpecifiedLineTradeSettlement", NS)
            period = sub(
                line_settlement, "BillingSpecifiedPeriod", before=AFTER_LINE_PERIOD
            )
            date_element(period, "StartDateTime", line.subscription_date_from)
            date_element(period, "EndDateTime", line.subscription_date_to)

    def _subscription_set_net_prices(self, tree, invoice):
        """Net price (BT-146) with 4 decimals, the line total divided by the
        quantity, so that quantity x net price gives the line total within a
        cent; the gross price and its discount (BT-148, BT-147) agree."""
        for item in tree.iterfind(
            "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem", NS
        ):
            quantity = float(
                item.findtext(
                    "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", "0", NS
                )
            )
            total = float(
                item.findtext(
                    "ram:SpecifiedLineTradeSettlement/"
                    "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
                    "0",
                    NS,
                )
            )
            if not quantity:
                continue
            agreement = item.find("ram:SpecifiedLineTradeAgreement", NS)
            net = round(total / quantity, 4)
            agreement.find(
                "ram:NetPriceProductTradePrice/ram:ChargeAmount", NS
            ).text = float_repr(net, 4)
            gross = agreement.find("ram:GrossPriceProductTradePrice", NS)
            if gross is None:
                continue
            discount = gross.find(
                "ram:AppliedTradeAllowanceCharge/ram:ActualAmount", NS
            )
            gross_amount = gross.find("ram:ChargeAmount", NS)
            if discount is None:
                gross_amount.text = float_repr(net, 4)
            else:
                gross_value = round(float(gross_amount.text), 4)
                gross_amount.text = float_repr(gross_value, 4)
                discount.text = float_repr(round(gross_value - net, 4), 4)

    def _subscription_add_corrected_invoice(self, tree, invoice):
        """The invoice a credit note corrects (BT-25, BT-26; BR-FR-CO-05)."""
        corrected = invoice._subscription_corrected_invoice()
        if not corrected:
            return
        settlement = tree.find(
            "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement", NS
        )
        reference = sub(
            settlement, "InvoiceReferencedDocument", before=AFTER_REFERENCED_DOCUMENT
        )
        sub(reference, "IssuerAssignedID", corrected.name)
        date_element(reference, "FormattedIssueDateTime", corrected.invoice_date, "qdt")
