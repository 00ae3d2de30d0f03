import io
import re
from html import unescape
from unittest.mock import patch

import polib
from freezegun import freeze_time
from lxml import etree
from PyPDF2 import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

from odoo import Command
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import config, mute_logger
from odoo.tools.pdf import OdooPdfFileReader
from odoo.tools.translate import code_translations

from ..models.account_move_send import AccountMoveSend
from ..models.account_move_send_facturx import unmark_pdf_header
from . import einvoice_validation
from .common import SubscriptionCommon

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:"
    "ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}


def pdf_pages(texts):
    """One page per text, as wkhtmltopdf renders several invoices at once."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for index, text in enumerate(texts):
        pdf.drawString(72, 760, text)
        pdf.bookmarkPage(f"p{index}")
        pdf.addOutlineEntry(text, f"p{index}", level=0)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def rewritten(pdf):
    """``pdf`` written again by PyPDF2, as Odoo writes each invoice's part of
    a PDF rendered for several (ir.actions.report, rendering ahead too)."""
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def setup_french_company(cls):
    """The test company made a French one ready for Factur-X: EUR, address,
    SIRET, VAT number, IBAN (``cls.fr`` is France)."""
    cls.fr = cls.env.ref("base.fr")
    cls.company.currency_id = cls.env.ref("base.EUR")
    cls.company.partner_id.write(
        {
            "country_id": cls.fr.id,
            "street": "1 rue de la Paix",
            "zip": "75002",
            "city": "Paris",
            "phone": "+33 1 23 45 67 89",
            "company_registry": "732 829 320 00074",
        }
    )
    cls.company.write({"email": "factures@abo.example", "vat": "FR44732829320"})
    cls.env["res.partner.bank"].create(
        {
            "acc_number": "FR7630006000011234567890189",
            "partner_id": cls.company.partner_id.id,
            "allow_out_payment": True,
        }
    )


@tagged("post_install", "-at_install")
class TestEinvoiceFr(SubscriptionCommon):
    """The e-invoices a French company sends, read back from the emailed PDFs
    as a platform (PA) reads them: PDF/A-3 with Factur-X XMP, the XML valid
    against the EN 16931 schematron and the French rules (BR-FR)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        setup_french_company(cls)
        cls.customer.write(
            {
                "is_company": True,
                "country_id": cls.fr.id,
                "street": "12 rue du Four",
                "zip": "69001",
                "city": "Lyon",
                "vat": "FR23334175221",
                "company_registry": "33417522100019",
                "invoice_edi_format": "facturx",
            }
        )
        cls.other = cls.customer.copy(
            {
                "name": "Fromagerie Dubois",
                "email": "compta@dubois.example",
                "vat": "FR64443061841",
                "company_registry": "443061841",
                "subscription_einvoice_address": "443061841_COMPTA",
            }
        )

    def setUp(self):
        super().setUp()
        missing = einvoice_validation.missing()
        if missing:
            self.fail(f"cannot validate e-invoices: {missing} (see .ci/run)")

    # --- helpers --------------------------------------------------------------

    def _send_real_pdfs(self, day, moves=None, batch=True, page=pdf_pages):
        """Send what waits on ``day`` with the sending cron (or ``moves``
        with Invoice Now), as PDFs: one wkhtmltopdf call renders a page per
        invoice (the real one needs an HTTP server)."""
        calls = []

        def run_wkhtmltopdf(self_, bodies, **kwargs):
            calls.append(len(bodies))
            return page([f"Invoice {index}" for index in range(len(bodies))])

        with (
            patch.dict(config.options, {"test_enable": False}),
            patch.object(
                type(self.env["ir.actions.report"]), "_run_wkhtmltopdf", run_wkhtmltopdf
            ),
            patch.object(
                AccountMoveSend, "_subscription_render_in_batch", return_value=batch
            ),
            freeze_time(day),
            mute_logger("odoo.tools.pdf"),  # fonttools is not installed here
        ):
            if moves is None:
                self.env["account.move"]._cron_subscription_send()
            else:
                moves.with_context(force_report_rendering=True)._subscription_send()
        return calls

    def _emailed_pdf(self, invoice):
        mail = self.env["mail.mail"].search(
            [("model", "=", "account.move"), ("res_id", "=", invoice.id)]
        )
        pdf = mail.attachment_ids.filtered(lambda a: a.mimetype == "application/pdf")
        self.assertEqual(len(pdf), 1, f"{invoice.name} emailed with its PDF")
        return pdf.raw

    def _assert_facturx_pdf(self, pdf):
        """``pdf`` is a PDF/A-3 whose XMP says Factur-X EN 16931 and whose
        embedded factur-x.xml declares that profile; return the XML."""
        # PDF/A header: %PDF-1.7, one EOL marker, a comment of 4 bytes > 127.
        self.assertRegex(pdf[:16], rb"\A%PDF-1\.7(\r\n|\n|\r)%[\x80-\xff]{4}")
        reader = OdooPdfFileReader(io.BytesIO(pdf), strict=False)
        root = reader.trailer["/Root"]
        self.assertIn("/OutputIntents", root, "no PDF/A output intent")
        self.assertEqual(
            root["/OutputIntents"][0].getObject()["/S"], "/GTS_PDFA1", "PDF/A"
        )
        xmp = root["/Metadata"].getObject().getData()
        self.assertIn(b"<pdfaid:part>3</pdfaid:part>", xmp)
        self.assertIn(b"<pdfaid:conformance>B</pdfaid:conformance>", xmp)
        self.assertIn(b"<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>", xmp)
        self.assertIn(b"<fx:DocumentFileName>factur-x.xml", xmp)
        embedded = dict(reader.getAttachments())
        xml = embedded["factur-x.xml"]
        guideline = etree.fromstring(xml).xpath(
            "//rsm:ExchangedDocumentContext/"
            "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
            namespaces=NS,
        )
        self.assertEqual(guideline[0].text, "urn:cen.eu:en16931:2017")
        return xml

    def _assert_valid(self, documents):
        errors = einvoice_validation.validate(documents)
        for name, found in errors.items():
            self.assertEqual(found, [], f"{name} breaks the rules")

    # --- PDF/A-3 --------------------------------------------------------------

    def test_header_of_a_split_pdf_is_no_pdfa_mark(self):
        pdf = rewritten(pdf_pages(["one"]))
        self.assertRegex(pdf[:16], rb"^%PDF-1\.\d\n%[\x80-\xff]{4}\n")
        unmarked = unmark_pdf_header(pdf)
        self.assertEqual(len(unmarked), len(pdf), "same offsets")
        self.assertEqual(unmarked[:8], pdf[:8])
        self.assertEqual(unmarked[14:15], b"\r")
        self.assertEqual(len(PdfReader(io.BytesIO(unmarked)).pages), 1)
        # Debian's wkhtmltopdf 0.12.6 writes such a comment too.
        debian = b"%PDF-1.4\n%\xc3\xa2\xc3\xa3\n1 0 obj\n<<>>\nendobj\n"
        self.assertEqual(unmark_pdf_header(debian)[14:15], b"\r")
        # The patched build writes none; a PDF/A is left as it is.
        patched = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"
        self.assertEqual(unmark_pdf_header(patched), patched)
        pdfa = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<</S /GTS_PDFA1>>\n"
        self.assertEqual(unmark_pdf_header(pdfa), pdfa)

    def test_invoices_sent_in_a_batch_are_pdfa3_facturx(self):
        """Every invoice of a billing day, rendered in one wkhtmltopdf call
        and split, is emailed as a PDF/A-3 Factur-X, valid for the platforms."""
        contracts = self._start() | self._start(partner=self.other)
        contracts |= self._start(
            date_start="2027-01-01",
            line_ids=[
                Command.create(
                    {
                        "product_id": self.product_hosting.id,
                        "quantity": 3,
                        "discount": 12.5,
                    }
                )
            ],
        )
        self._bill("2027-01-01")
        invoices = self._invoices(contracts[0]) | self._invoices(contracts[1])
        invoices |= self._invoices(contracts[2])
        self.assertEqual(len(invoices), 3)
        calls = self._send_real_pdfs("2027-01-01")
        self.assertEqual(calls, [3], "one wkhtmltopdf call for the batch")
        documents = {}
        for invoice in invoices:
            self.assertFalse(invoice.subscription_edi_error)
            documents[invoice.name] = self._assert_facturx_pdf(
                self._emailed_pdf(invoice)
            )
        self._assert_valid(documents)

    def test_invoices_rendered_one_by_one_or_ahead_are_pdfa3_facturx(self):
        """Debian's wkhtmltopdf (one invoice per call, its own binary comment)
        and PDFs rendered ahead (split by PyPDF2) give PDF/A-3 Factur-X too."""
        contracts = self._start() | self._start(partner=self.other)
        self._bill("2027-01-01")
        first, second = self._invoices(contracts[0]), self._invoices(contracts[1])

        def debian_page(texts):
            pdf = pdf_pages(texts)
            # Same length as reportlab's comment line: the offsets stay right.
            line = pdf.index(b"\n", 9)
            return pdf[:9] + b"%\xc3\xa2\xc3\xa3" + b" " * (line - 14) + pdf[line:]

        calls = self._send_real_pdfs("2027-01-01", batch=False, page=debian_page)
        self.assertEqual(calls, [1, 1])
        for invoice in first | second:
            self._assert_facturx_pdf(self._emailed_pdf(invoice))

        # Invoice Now on a PDF rendered ahead.
        contract = self._start(products=self.product_hosting, date_start="2027-02-01")
        with freeze_time("2027-02-01"):
            invoice = contract._generate_invoices()
        report = self.env.ref("account.account_invoices")
        prerendered = {(report.id, invoice.id): rewritten(pdf_pages(["ahead"]))}
        calls = self._send_real_pdfs(
            "2027-02-01",
            moves=invoice.with_context(subscription_prerendered=prerendered),
        )
        self.assertEqual(calls, [])
        xml = self._assert_facturx_pdf(self._emailed_pdf(invoice))
        self._assert_valid({invoice.name: xml})

    # --- the French rules -----------------------------------------------------

    def test_cron_documents_pass_en16931_and_the_french_rules(self):
        """Period invoice with a prorated line, amendment invoice and
        amendment credit note, all billed and emailed by the scheduled
        actions: each valid, with its period, its net prices adding up and,
        for the credit note, the invoice it corrects."""
        self.company.subscription_credit_decrease = True
        plan = self._quarterly_aligned_plan()
        prorated = self._start(
            plan=plan,
            date_start="2027-02-10",
            line_ids=[
                Command.create(
                    {"product_id": self.product_maintenance.id, "quantity": 7}
                )
            ],
        )
        amended = self._start(partner=self.other, date_start="2027-03-01")
        amended.line_ids.quantity = 2
        increased = self._start(date_start="2027-03-01")
        # Billed by the billing cron, all sent at once by the sending cron.
        self._bill("2027-02-10")
        self._bill("2027-03-01")
        with freeze_time("2027-03-16"):
            amended.line_ids.quantity = 1
            increased.line_ids.quantity = 3
        with freeze_time("2027-03-16"):
            self.env["subscription.contract"]._cron_bill_amendments()
        self.env.invalidate_all()
        self._send_real_pdfs("2027-03-16")
        first = self._invoices(prorated)[0]
        self.assertEqual(first.amount_untaxed, 388.89)
        credit = self.env["account.move"].search(
            [
                ("subscription_contract_id", "=", amended.id),
                ("move_type", "=", "out_refund"),
            ]
        )
        extra = self.env["account.move"].search(
            [
                ("subscription_contract_id", "=", increased.id),
                ("subscription_amendment", "=", True),
            ]
        )
        self.assertEqual(len(credit), 1)
        self.assertEqual(len(extra), 1)
        documents = {}
        for move in first | credit | extra:
            self.assertFalse(move.subscription_edi_error, move.name)
            self.assertFalse(move.subscription_to_send, move.name)
            documents[move.name] = self._assert_facturx_pdf(self._emailed_pdf(move))
        self._assert_valid(documents)

        # Net prices with 4 decimals: quantity x price = line total.
        tree = etree.fromstring(documents[first.name])
        item = tree.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)[0]

        def value(node, path):
            return node.xpath(path, namespaces=NS)[0].text

        net = value(item, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount")
        self.assertEqual(net, "55.5557")
        self.assertLessEqual(abs(7 * float(net) - 388.89), 0.01)

        # The credit note: type 381, the corrected invoice, the period.
        tree = etree.fromstring(documents[credit.name])
        self.assertEqual(value(tree, "//rsm:ExchangedDocument/ram:TypeCode"), "381")
        march = self._invoices(amended).filtered(lambda m: m.move_type == "out_invoice")
        self.assertEqual(
            value(tree, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID"),
            march.name,
        )
        self.assertEqual(
            value(tree, "//ram:InvoiceReferencedDocument//qdt:DateTimeString"),
            "20270301",
        )
        for document in (documents[credit.name], documents[extra.name]):
            tree = etree.fromstring(document)
            self.assertEqual(
                value(
                    tree,
                    "//ram:ApplicableHeaderTradeSettlement/ram:BillingSpecifiedPeriod"
                    "/ram:StartDateTime/udt:DateTimeString",
                ),
                "20270316",
            )
            self.assertEqual(
                value(
                    tree,
                    "//ram:ApplicableHeaderTradeSettlement/ram:BillingSpecifiedPeriod"
                    "/ram:EndDateTime/udt:DateTimeString",
                ),
                "20270331",
            )
            for item in tree.xpath(
                "//ram:IncludedSupplyChainTradeLineItem", namespaces=NS
            ):
                quantity = float(value(item, ".//ram:BilledQuantity"))
                price = float(
                    value(item, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount")
                )
                total = float(value(item, ".//ram:LineTotalAmount"))
                self.assertLessEqual(abs(quantity * price - total), 0.01)
        # Its email says credit note.
        mail = self.env["mail.mail"].search(
            [("model", "=", "account.move"), ("res_id", "=", credit.id)]
        )
        self.assertIn("Credit Note", mail.subject)

        # The French notes, SIREN and addresses.
        tree = etree.fromstring(documents[extra.name])
        notes = {
            value(note, "ram:SubjectCode"): value(note, "ram:Content")
            for note in tree.xpath("//ram:IncludedNote", namespaces=NS)
        }
        self.assertIn("EUR 40", notes["PMT"])
        self.assertIn("ECB refinancing rate plus 10 points", notes["PMD"])
        self.assertEqual(notes["AAB"], "No discount for early payment.")
        self.assertEqual(notes["BAR"], "B2B")
        self.assertEqual(
            value(
                tree, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"
            ),
            "S1",
        )
        seller = "//ram:SellerTradeParty"
        self.assertEqual(
            value(tree, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID"), "732829320"
        )
        self.assertEqual(
            value(tree, f"{seller}/ram:URIUniversalCommunication/ram:URIID"),
            "732829320",
        )
        tree = etree.fromstring(documents[credit.name])
        buyer = "//ram:BuyerTradeParty"
        self.assertEqual(
            value(tree, f"{buyer}/ram:SpecifiedLegalOrganization/ram:ID"), "443061841"
        )
        self.assertEqual(
            value(tree, f"{buyer}/ram:URIUniversalCommunication/ram:URIID"),
            "443061841_COMPTA",
        )

    def test_settings_lawful_defaults_and_what_is_missing(self):
        settings = self.env["res.config.settings"].with_user(self.env.user).create({})
        self.assertEqual(settings.subscription_penalty_points, 10.0)
        self.assertFalse(settings.subscription_early_discount)
        self.assertEqual(settings.subscription_einvoice_process, "S1")
        self.assertFalse(settings.subscription_einvoice_issues)
        self.company.company_registry = False
        settings = self.env["res.config.settings"].create({})
        self.assertIn("SIREN", settings.subscription_einvoice_issues)
        # Without SIREN the invoices still go, with their PDF and one activity.
        contracts = self._start() | self._start(partner=self.other)
        self._run_cron("2027-01-01")
        for contract in contracts:
            invoice = self._invoices(contract)
            self.assertTrue(invoice.is_move_sent)
            self.assertIn("SIREN", invoice.subscription_edi_error)
        activities = self.env["mail.activity"].search(
            [("res_model", "=", "account.move"), ("summary", "=", "E-invoice error")]
        )
        self.assertEqual(len(activities), 1)
        # The administrator sets the terms of the company.
        admin = new_test_user(
            self.env,
            login="fr_admin",
            groups="base.group_user,base.group_system,account.group_account_manager",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        with Form(self.env["res.config.settings"].with_user(admin)) as form:
            form.subscription_penalty_points = 12.5
            form.subscription_early_discount = "1% for payment within 8 days"
            form.subscription_vat_on_debits = True
        form.record.execute()
        self.assertEqual(self.company.subscription_penalty_points, 12.5)
        self.assertTrue(self.company.subscription_vat_on_debits)
        notes = invoice._subscription_legal_notes()
        self.assertIn("plus 12.5 points", notes["PMD"])
        self.assertEqual(notes["AAB"], "1% for payment within 8 days")

    def test_consumers_get_b2c_notes(self):
        consumer = self.env["res.partner"].create(
            {
                "name": "Jeanne Petit",
                "email": "jeanne@example.com",
                "country_id": self.fr.id,
                "zip": "33000",
                "city": "Bordeaux",
                "invoice_edi_format": "facturx",
            }
        )
        contract = self._start(partner=consumer)
        with freeze_time("2027-01-01"):
            invoice = contract._generate_invoices()
        notes = invoice._subscription_legal_notes()
        self.assertEqual(notes["BAR"], "B2C")
        self.assertIn("consumer", notes["PMT"])
        self.assertIn("legal interest rate", notes["PMD"])
        xml, errors = self.env["account.edi.xml.cii"]._export_invoice(invoice)
        self.assertFalse(errors)
        errors = einvoice_validation.validate({invoice.name: xml})[invoice.name]
        self.assertFalse([e for e in errors if not e.startswith("BR-FR")], errors)
        # The French rules are those of business invoices: a consumer has no
        # electronic address (BT-49).
        self.assertEqual({e.split(":")[0] for e in errors}, {"BR-FR BR-FR-12_BT-49"})
        self.assertTrue(re.search(rb"<ram:Content>B2C</ram:Content>", xml))

    # --- the printed invoice --------------------------------------------------

    def _html(self, moves):
        html = (
            self.env["ir.actions.report"]
            .with_user(self.user_accountant)
            ._render_qweb_html("account.account_invoices", moves.ids)[0]
            .decode()
        )
        # The text as read, without the tags.
        text = unescape(re.sub(r"<[^>]+>", " ", html))
        return " ".join(text.split()).replace(" .", ".")

    def test_printed_invoice_has_the_french_mentions(self):
        self.user_accountant = new_test_user(
            self.env,
            login="fr_accountant",
            groups="base.group_user,account.group_account_invoice,"
            "subscription_billing.group_subscription_user",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        self.company.subscription_credit_decrease = True
        contract = self._start(date_start="2027-03-01")
        contract.line_ids.quantity = 2
        self._bill("2027-03-01")
        with freeze_time("2027-03-16"):
            contract.line_ids.quantity = 1
            self.env["subscription.contract"]._cron_bill_amendments()
        invoice = self._invoices(contract).filtered(
            lambda m: m.move_type == "out_invoice"
        )
        credit = self._invoices(contract) - invoice
        self.assertEqual(credit.move_type, "out_refund")
        html = self._html(invoice)
        for text in (
            "Payment date: " + invoice.invoice_date_due.strftime("%m/%d/%Y"),
            "the ECB refinancing rate plus 10 points",
            "recovery costs in case of late payment: EUR 40",
            "No discount for early payment",
            "SIREN 732829320",
            "Customer SIREN 334175221",
            "Category of operations: Services",
        ):
            self.assertIn(text, html, html[-1500:])
        self.assertNotIn("VAT paid on debits", html)
        html = self._html(credit)
        self.assertIn("Corrected Invoice", html)
        self.assertIn(invoice.name, html)
        self.assertIn("03/16/2027", html, "the credit note's period")

        # In French, with the company's options.
        self.company.subscription_vat_on_debits = True
        self.env["res.lang"]._activate_lang("fr_FR")
        # Odoo merges fr.po with the module's .pot, which marks the strings
        # the .pot does not have yet obsolete: read fr.po as it is (the .pot
        # is exported again from the code when releasing).
        code_translations.python_translations.pop(
            ("subscription_billing", "fr_FR"), None
        )
        with patch.object(polib.POFile, "merge", lambda self_, refpot: None):
            self.env["ir.module.module"]._load_module_terms(
                ["subscription_billing"], ["fr_FR"], overwrite=True
            )
            code_translations.get_python_translations("subscription_billing", "fr_FR")
        self.addCleanup(
            code_translations.python_translations.pop,
            ("subscription_billing", "fr_FR"),
            None,
        )
        self.customer.lang = "fr_FR"
        html = self._html(invoice)
        for text in (
            "Date de paiement",
            "taux de refinancement de la BCE majoré de 10 points",
            "Indemnité forfaitaire pour frais de recouvrement",
            "40 €",
            "Pas d'escompte pour paiement anticipé",
            "SIREN du client 334175221",
            "Catégorie d'opérations",
            "Prestations de services",
            "Option pour le paiement de la TVA d'après les débits",
        ):
            self.assertIn(text, html, html[-1500:])
        self.assertIn("Facture rectifiée", self._html(credit))

        # A consumer: no penalties nor indemnity, the company's identifiers.
        consumer = self.env["res.partner"].create(
            {"name": "Jeanne Petit", "email": "jeanne@example.com", "lang": "en_US"}
        )
        contract = self._start(partner=consumer, date_start="2027-03-01")
        self._bill("2027-03-01")
        html = self._html(self._invoices(contract))
        self.assertIn("SIREN 732829320", html)
        self.assertNotIn("EUR 40", html)
        self.assertNotIn("Customer SIREN", html)

    def test_rendering_ahead_writes_nothing_on_the_invoices(self):
        """The sending holds the invoices it sends locked while other cursors
        render their PDFs ahead: rendering the SEPA transfer QR code of a
        French invoice in euros must not write on the invoice (Odoo writes
        back the QR method), which would wait for the sending forever."""
        contract = self._start()
        self._bill("2027-01-01")
        invoice = self._invoices(contract)
        self.assertEqual(invoice.qr_code_method, "sct_qr")
        self.env.flush_all()
        self.env.invalidate_all()
        report = self.env["ir.actions.report"].with_context(
            subscription_rendering_ahead=True
        )
        with patch.object(
            type(invoice), "write", side_effect=AssertionError("written")
        ) as write:
            html = report._render_qweb_html("account.account_invoices", invoice.ids)[0]
            self.env.flush_all()
        write.assert_not_called()
        self.assertIn(b"qrcode_image", html)
