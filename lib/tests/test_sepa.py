from datetime import date

import pytest
from lxml import etree

from lib import sepa

CREDITOR = {
    "name": "Maintenance Dupré & Fils",
    "iban": "FR76 3000 6000 0112 3456 7890 189",
    "bic": "AGRIFRPP",
    "creditor_id": "FR72ZZZ123456",
}


def _payments():
    return [
        {
            "name": "Boulangerie Hélène Müller",
            "iban": "DE89370400440532013000",
            "bic": "COBADEFFXXX",
            "amount": 120.0,
            "sequence_type": "FRST",
            "collection_date": date(2027, 2, 15),
            "mandate_id": "SDD/2027/00001",
            "mandate_date": date(2027, 1, 10),
            "description": "INV/2027/00001 – abonnement SUB/2027/00001",
            "endtoend_id": "INV/2027/00001",
        },
        {
            "name": "Garage de l'Église",
            "iban": "FR1420041010050500013M02606",
            "amount": 59.9,
            "sequence_type": "RCUR",
            "collection_date": date(2027, 2, 15),
            "mandate_id": "SDD/2026/00042",
            "mandate_date": date(2026, 3, 1),
            "description": "INV/2027/00002",
            "endtoend_id": "INV/2027/00002",
        },
    ]


def _text(tree, path):
    return [node.text for node in tree.iter(f"{{*}}{path}")]


@pytest.mark.parametrize("version", sepa.PAIN_VERSIONS)
def test_pain008_validates_and_carries_the_collection(version):
    xml = sepa.build_pain008(CREDITOR, _payments(), version, message_id="BATCH/001")
    assert sepa.validate_pain008(xml, version)
    tree = etree.fromstring(xml)
    assert version in tree.nsmap[None]
    assert _text(tree, "SeqTp") == ["FRST", "RCUR"]
    assert _text(tree, "InstdAmt") == ["120.00", "59.90"]
    assert _text(tree, "MndtId") == ["SDD/2027/00001", "SDD/2026/00042"]
    assert _text(tree, "ReqdColltnDt") == ["2027-02-15", "2027-02-15"]
    assert "FR72ZZZ123456" in _text(tree, "Id")
    header = next(tree.iter("{*}GrpHdr"))
    assert _text(header, "NbOfTxs") == ["2"]
    assert _text(header, "CtrlSum") == ["179.90"]
    assert _text(header, "MsgId") == ["BATCH/001"]
    # Names are transliterated into the SEPA character set.
    assert "Boulangerie Helene Muller" in _text(tree, "Nm")


def test_sanitize_keeps_the_sepa_character_set():
    assert (
        sepa.sanitize("Société Générale – lot 5 & Co") == "Societe Generale - lot 5 Co"
    )
    assert sepa.sanitize_id("//SUB 2027/ 1//") == "SUB-2027/-1"
    assert len(sepa.sanitize("x" * 200, 70)) == 70


def test_sequence_types_and_dates():
    assert sepa.sequence_type("recurrent", True) == "FRST"
    assert sepa.sequence_type("recurrent", False) == "RCUR"
    assert sepa.sequence_type("oneoff", True) == "OOFF"
    assert sepa.earliest_collection_date(date(2027, 2, 1), 14) == date(2027, 2, 15)
    assert sepa.earliest_collection_date(date(2027, 2, 1), 0) == date(2027, 2, 2)


def test_an_invalid_file_is_refused_with_a_message():
    payments = _payments()
    payments[0]["iban"] = "NOT-AN-IBAN"
    with pytest.raises(ValueError, match="does not validate"):
        sepa.build_pain008(CREDITOR, payments, "pain.008.001.08")


def test_bic_is_required_by_the_old_version():
    creditor = dict(CREDITOR)
    del creditor["bic"]
    with pytest.raises(ValueError):
        sepa.build_pain008(creditor, _payments(), "pain.008.001.02")
    xml = sepa.build_pain008(creditor, _payments(), "pain.008.001.08")
    assert sepa.validate_pain008(xml, "pain.008.001.08")


def test_target_calendar_and_earliest_file_date():
    # Easter 2027: Good Friday 26 March, Easter Monday 29 March.
    assert not sepa.is_target_day(date(2027, 3, 26))
    assert not sepa.is_target_day(date(2027, 3, 29))
    assert not sepa.is_target_day(date(2027, 5, 1))
    assert not sepa.is_target_day(date(2027, 12, 26))
    assert sepa.is_target_day(date(2027, 3, 30))
    assert sepa.min_collection_date(date(2027, 3, 25)) == date(2027, 3, 30)
    assert sepa.min_collection_date(date(2027, 1, 22)) == date(2027, 1, 25)
    # A Saturday due date moves to the Monday.
    assert sepa.earliest_collection_date(date(2027, 1, 2), 14) == date(2027, 1, 18)


def test_mandate_references_checked_as_typed():
    assert sepa.is_valid_id("SDD/2027/00001")
    assert sepa.is_valid_id("A" * 35)
    for bad in ("", "A" * 36, "RÉF-1", "REF 1", "/REF", "REF/", "RE//F", "REF_1"):
        assert not sepa.is_valid_id(bad), bad


@pytest.mark.parametrize("version", sepa.PAIN_VERSIONS)
def test_amendments_carry_the_original_debtor_account(version):
    payments = _payments()
    payments[0]["original_iban"] = "DE89 3704 0044 0532 0130 00"
    payments[1]["original_other_bank"] = True
    xml = sepa.build_pain008(CREDITOR, payments, version)
    assert sepa.validate_pain008(xml, version)
    tree = etree.fromstring(xml)
    transactions = list(tree.iter("{*}DrctDbtTxInf"))
    first, second = transactions
    assert first.findtext(".//{*}AmdmntInd") == "true"
    assert (
        first.findtext(".//{*}AmdmntInfDtls/{*}OrgnlDbtrAcct/{*}Id/{*}IBAN")
        == "DE89370400440532013000"
    )
    assert second.findtext(".//{*}OrgnlDbtrAcct/{*}Id/{*}Othr/{*}Id") == "SMNDA"
    untouched = sepa.build_pain008(CREDITOR, _payments(), version)
    assert b"AmdmntInd" not in untouched
