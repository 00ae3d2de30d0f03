"""SEPA direct debit: pain.008 files built with the maintained `sepaxml` library,
validated against the official XSD it ships, with SEPA-safe texts.

Pure Python: the Odoo models pass plain dicts and get bytes back.
"""

import re
from datetime import date, timedelta

from dateutil.easter import easter
from lxml import etree
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


def is_valid_id(text, max_length=35):
    """True when ``text`` can go to the bank unchanged as an identifier (mandate
    reference): SEPA characters without space, at most ``max_length``, neither
    starting nor ending with '/' nor containing '//'."""
    return bool(text) and len(text) <= max_length and text == sanitize_id(text)


def is_target_day(day):
    """A TARGET2 business day: not a weekend, New Year's Day, Good Friday,
    Easter Monday, 1 May, 25 or 26 December (the SEPA inter-bank calendar)."""
    if day.weekday() >= 5:
        return False
    if (day.month, day.day) in ((1, 1), (5, 1), (12, 25), (12, 26)):
        return False
    easter_sunday = easter(day.year)
    return day not in (
        easter_sunday - timedelta(days=2),
        easter_sunday + timedelta(days=1),
    )


def next_target_day(day):
    """``day`` itself when it is a TARGET day, else the next one."""
    while not is_target_day(day):
        day += timedelta(days=1)
    return day


def add_target_days(day, count):
    """The ``count``-th TARGET day after ``day``."""
    for __ in range(count):
        day = next_target_day(day + timedelta(days=1))
    return day


# EPC rulebooks (CORE since November 2016, all sequence types; B2B): the
# collection reaches the debtor's bank at the latest one TARGET day before the
# due date (D-1). A file created on day C is sent the same day, so its
# requested collection date is at least the first TARGET day after C.
SUBMISSION_LEAD_DAYS = 1


def min_collection_date(creation_date, lead_days=SUBMISSION_LEAD_DAYS):
    """The earliest requested collection date of a file created on
    ``creation_date``: ``lead_days`` TARGET days later."""
    return add_target_days(creation_date, lead_days)


def sequence_type(mandate_type, first):
    """FRST for the first collection of a recurrent mandate, RCUR afterwards,
    OOFF for a one-off mandate."""
    if mandate_type == "oneoff":
        return "OOFF"
    return "FRST" if first else "RCUR"


def earliest_collection_date(today, prenotification_days):
    """The debtor must be pre-notified at least ``prenotification_days`` (>= 1)
    before the collection, which is a TARGET day, and never before the day a
    file created today can ask for."""
    return max(
        next_target_day(today + timedelta(days=max(int(prenotification_days), 1))),
        min_collection_date(today),
    )


def to_cents(amount):
    """Amount in euro cents (an int), as sepaxml wants it."""
    return int(round(amount * 100))


def build_pain008(creditor, payments, version="pain.008.001.08", message_id=None):
    """The pain.008 XML (bytes) of a collection.

    ``creditor``: name, iban, bic (optional in .08), creditor_id, scheme
    ('CORE' or 'B2B'). ``payments``: dicts with name, iban, bic (optional),
    amount (float, EUR), sequence_type, collection_date, mandate_id,
    mandate_date, description, endtoend_id, and for a mandate whose debtor
    account changed since the last collection ``original_iban`` (same bank) or
    ``original_other_bank`` (True: another bank, "SMNDA"). Raises
    ``ValueError`` with a readable message when the file does not validate
    against the schema.
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
        xml = document.export(validate=True)
    except Exception as error:  # sepaxml raises its own ValidationError
        raise ValueError(f"the {version} file does not validate: {error}") from error
    amendments = {
        sanitize_id(p["endtoend_id"]): p
        for p in payments
        if p.get("original_iban") or p.get("original_other_bank")
    }
    if not amendments:
        return xml
    xml = add_amendments(xml, amendments)
    try:
        validate_pain008(xml, version)
    except Exception as error:  # noqa: BLE001 - sepaxml's ValidationError
        raise ValueError(f"the {version} file does not validate: {error}") from error
    return xml


def add_amendments(xml, amendments):
    """Mark the debits of ``amendments`` (end-to-end id -> payment dict) as a
    mandate amendment: ``AmdmntInd`` true and the original debtor account, its
    IBAN when the account moved within the same bank, "SMNDA" (same mandate,
    new debtor agent) when it moved to another bank (EPC rulebook AT-24)."""
    tree = etree.fromstring(xml)
    namespace = etree.QName(tree).namespace
    ns = {"p": namespace}

    def node(tag, parent=None, text=None):
        element = (
            etree.SubElement(parent, f"{{{namespace}}}{tag}")
            if parent is not None
            else etree.Element(f"{{{namespace}}}{tag}")
        )
        if text is not None:
            element.text = text
        return element

    for transaction in tree.iterfind(".//p:DrctDbtTxInf", ns):
        payment = amendments.get(transaction.findtext("p:PmtId/p:EndToEndId", None, ns))
        if not payment:
            continue
        mandate = transaction.find("p:DrctDbtTx/p:MndtRltdInf", ns)
        signature = mandate.find("p:DtOfSgntr", ns)
        indicator = node("AmdmntInd", text="true")
        details = node("AmdmntInfDtls")
        account_id = node("Id", node("OrgnlDbtrAcct", details))
        if payment.get("original_other_bank"):
            node("Id", node("Othr", account_id), "SMNDA")
        else:
            node("IBAN", account_id, payment["original_iban"].replace(" ", "").upper())
        signature.addnext(indicator)
        indicator.addnext(details)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def validate_pain008(xml, version):
    """Validate bytes against the official schema shipped with sepaxml."""
    from sepaxml.validation import try_valid_xml

    try_valid_xml(xml, version)
    return True
