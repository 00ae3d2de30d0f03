"""QR codes for the printed reports (contract, SEPA mandate)."""

import base64
import io

import qrcode


def qr_code_data_uri(text):
    """A PNG QR code of ``text`` as a data URI, for QWeb reports."""
    image = qrcode.make(text, box_size=4, border=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
