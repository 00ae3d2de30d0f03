import re

from odoo import api, models

# The header PyPDF2 (1.27 and later) writes on every PDF: the version line,
# then a comment of four bytes above 127 ("%âãÏÓ"). Odoo's PDF writer
# (OdooPdfFileWriter.cloneReaderDocumentRoot) takes any such six-byte second
# line for the mark of a PDF/A file, and account_edi_ubl_cii then neither
# converts the PDF to PDF/A-3 nor adds its Factur-X XMP metadata. Odoo's
# report engine writes with PyPDF2 each invoice's part of a PDF rendered for
# several invoices: every invoice sent in a batch, or rendered ahead, carried
# that mark without being PDF/A.
PYPDF2_HEADER = re.compile(rb"\A%PDF-1\.\d\n%[\x80-\xff]{4}\n")
# What Odoo's PDF/A conversion writes (the sRGB output intent of PDF/A): a
# PDF that has it is PDF/A indeed (PyPDF2 writes no compressed objects).
PDFA_MARK = b"/GTS_PDFA1"


def unmark_pdf_header(pdf):
    """``pdf`` with the line end of its binary comment written CR instead of
    LF when it is not a PDF/A file: the same bytes at the same offsets, a
    valid PDF header still (a comment ends at CR or LF), which Odoo no longer
    takes for PDF/A; any other PDF as it is."""
    if not pdf or not PYPDF2_HEADER.match(pdf) or PDFA_MARK in pdf:
        return pdf
    end = PYPDF2_HEADER.match(pdf).end() - 1
    return pdf[:end] + b"\r" + pdf[end + 1 :]


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _hook_invoice_document_after_pdf_report_render(self, invoice, invoice_data):
        # Before account_edi_ubl_cii embeds the Factur-X and converts the PDF
        # to PDF/A-3 (this addon depends on it: this runs first).
        values = invoice_data.get("pdf_attachment_values")
        if not invoice.invoice_pdf_report_id and values and values.get("raw"):
            values["raw"] = unmark_pdf_header(values["raw"])
        return super()._hook_invoice_document_after_pdf_report_render(
            invoice, invoice_data
        )
