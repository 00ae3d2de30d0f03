import io
import logging
import re

from odoo import api, models
from odoo.tools.pdf import PdfReader, PdfWriter

_logger = logging.getLogger(__name__)

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


# PyPDF2 2.x writes the header Odoo's conversion sets ("%PDF-1.7\n") and then
# a line end of its own: an empty line, which PDF/A forbids (the header "shall
# consist of %PDF-1.n followed by a single EOL marker" immediately followed
# by the binary comment). CR LF is one EOL marker of the same length.
PDFA_HEADER_EMPTY_LINE = b"%PDF-1.7\n\n%"
PDFA_HEADER = b"%PDF-1.7\r\n%"


def prepare_for_pdfa(pdf):
    """``pdf``, unless it is PDF/A already, ready for Odoo's conversion to
    PDF/A: no binary comment it takes for a PDF/A mark, and an outline
    dictionary, which the conversion expects (KeyError '/Outlines' else):
    wkhtmltopdf writes none without headings (Debian's build never), PyPDF2
    drops it when it splits a PDF rendered for several invoices."""
    if not pdf or not pdf.startswith(b"%PDF-") or PDFA_MARK in pdf:
        return pdf
    if b"/Outlines" not in pdf:
        try:
            reader = PdfReader(io.BytesIO(pdf), strict=False)
            writer = PdfWriter()
            writer.clone_reader_document_root(reader)
            writer.get_outline_root()
            buffer = io.BytesIO()
            writer.write(buffer)
        except Exception:  # pylint: disable=broad-except
            # Odoo's own post-processing reports what is wrong with it.
            _logger.info("PDF not prepared for PDF/A", exc_info=True)
            return pdf
        pdf = buffer.getvalue()
    return unmark_pdf_header(pdf)


def single_eol_header(pdf):
    """``pdf`` whose PDF/A header line ends with one EOL marker (see above)."""
    if pdf and pdf.startswith(PDFA_HEADER_EMPTY_LINE):
        return PDFA_HEADER + pdf[len(PDFA_HEADER_EMPTY_LINE) :]
    return pdf


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _hook_invoice_document_after_pdf_report_render(self, invoice, invoice_data):
        # Before account_edi_ubl_cii embeds the Factur-X and converts the PDF
        # to PDF/A-3 (this addon depends on it: this runs first).
        values = invoice_data.get("pdf_attachment_values")
        # The condition on which account_edi_ubl_cii converts to PDF/A.
        facturx = (
            invoice_data.get("ubl_cii_xml_options", {}).get("ubl_cii_format")
            == "facturx"
        )
        if (
            not facturx
            or invoice.invoice_pdf_report_id
            or not (values and values.get("raw"))
        ):
            return super()._hook_invoice_document_after_pdf_report_render(
                invoice, invoice_data
            )
        values["raw"] = prepare_for_pdfa(values["raw"])
        res = super()._hook_invoice_document_after_pdf_report_render(
            invoice, invoice_data
        )
        values["raw"] = single_eol_header(values["raw"])
        return res
