"""SEPA direct debit: pain.008 files built with the maintained `sepaxml` library,
validated against the official XSD it ships, with SEPA-safe texts.

Pure Python: the Odoo models pass plain dicts and get bytes back.
"""

import re
from datetime import date, timedelta

from sepaxml import SepaDD
from text_unidecode import unidecode

PAIN_VERSIONS = ("pain.008.001.02", "pain.008.001.08")
# The SEPA (EPC) Latin character set.
_NOT_SEPA = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
# Identifiers (message, payment, end-to-end ids, mandate references): no space.
_NOT_SEPA_ID = re.compile(r"[^A-Za-z0-9/\-?:().,'+]")


def sanitize(text, max_length=140):
    """Text restricted to the SEPA character set (accents transliterated)."""
    clean = _NOT_SEPA.sub(" ", unidecode(text or ""))
    return " ".join(clean.split())[:max_length]


def sanitize_id(text, max_length=35):
    """Identifier restricted to the SEPA character set, without spaces; it must
    neither start nor end with '/' nor contain '//' (EPC rules)."""
    clean = _NOT_SEPA_ID.sub("", unidecode(text or "").replace(" ", "-"))
    clean = re.sub("/+", "/", clean).strip("/")
    return clean[:max_length]


def sequence_type(mandate_type, first):
    """FRST for the first collection of a recurrent mandate, RCUR afterwards,
    OOFF for a one-off mandate."""
    if mandate_type == "oneoff":
        return "OOFF"
    return "FRST" if first else "RCUR"


def earliest_collection_date(today, prenotification_days):
    """The debtor must be pre-notified at least ``prenotification_days`` (>= 1)
    before the collection."""
    return today + timedelta(days=max(int(prenotification_days), 1))


def to_cents(amount):
    """Amount in euro cents (an int), as sepaxml wants it."""
    return int(round(amount * 100))


def build_pain008(creditor, payments, version="pain.008.001.08", message_id=None):
    """The pain.008 XML (bytes) of a collection.

    ``creditor``: name, iban, bic (optional in .08), creditor_id, scheme
    ('CORE' or 'B2B'). ``payments``: dicts with name, iban, bic (optional),
    amount (float, EUR), sequence_type, collection_date, mandate_id,
    mandate_date, description, endtoend_id. Raises ``ValueError`` with a
    readable message when the file does not validate against the schema.
    """
    if version not in PAIN_VERSIONS:
        raise ValueError(f"unsupported pain.008 version {version!r}")
    config = {
        "name": sanitize(creditor["name"], 70),
        "IBAN": creditor["iban"].replace(" ", "").upper(),
        "batch": True,
        "creditor_id": creditor["creditor_id"].replace(" ", "").upper(),
        "currency": "EUR",
        "instrument": creditor.get("scheme") or "CORE",
    }
    if creditor.get("bic"):
        config["BIC"] = creditor["bic"].replace(" ", "").upper()
    try:
        document = SepaDD(config, schema=version, clean=True)
    except Exception as error:  # sepaxml raises a bare Exception
        raise ValueError(
            f"the creditor is incomplete for {version}: {error}"
        ) from error
    if message_id:
        document.msg_id = sanitize_id(message_id)
        document._xml.find("CstmrDrctDbtInitn/GrpHdr/MsgId").text = document.msg_id
    for payment in payments:
        values = {
            "name": sanitize(payment["name"], 70),
            "IBAN": payment["iban"].replace(" ", "").upper(),
            "amount": to_cents(payment["amount"]),
            "type": payment["sequence_type"],
            "collection_date": payment["collection_date"],
            "mandate_id": sanitize_id(payment["mandate_id"]),
            "mandate_date": payment["mandate_date"],
            "description": sanitize(payment["description"], 140),
            "endtoend_id": sanitize_id(payment["endtoend_id"]),
        }
        if payment.get("bic"):
            values["BIC"] = payment["bic"].replace(" ", "").upper()
        if not isinstance(values["collection_date"], date):
            raise ValueError("collection_date must be a date")
        document.add_payment(values)
    try:
        return document.export(validate=True)
    except Exception as error:  # sepaxml raises its own ValidationError
        raise ValueError(f"the {version} file does not validate: {error}") from error


def validate_pain008(xml, version):
    """Validate bytes against the official schema shipped with sepaxml."""
    from sepaxml.validation import try_valid_xml

    try_valid_xml(xml, version)
    return True
