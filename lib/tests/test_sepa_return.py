from decimal import Decimal

import pytest

from lib import sepa_return

IBAN = "FR7630006000011234567890189"


def test_pain002_rejects_are_read_and_accepted_ones_left_out():
    xml = sepa_return.build_pain002(
        "STS-1",
        "MSG-1",
        [
            {"end_to_end_id": "INV-2027-1/7", "code": "AM04", "amount": 240},
            {"end_to_end_id": "INV-2027-2/8", "code": "MD01", "amount": 59.9},
        ],
    )
    sepa_return.validate(xml)
    accepted = xml.replace(b"<TxSts>RJCT</TxSts>", b"<TxSts>ACCP</TxSts>", 1)
    parsed = sepa_return.parse(accepted)
    assert parsed["version"] == "pain.002.001.03"
    assert parsed["message_id"] == "STS-1"
    assert parsed["entries"] == [
        {
            "end_to_end_id": "INV-2027-2/8",
            "code": "MD01",
            "amount": Decimal("59.90"),
            "amounts": [("OrgnlTxRef/Amt/InstdAmt", Decimal("59.90"), "EUR")],
            "info": None,
            "day": "2027-01-16",
        }
    ]


def test_camt054_every_amount_is_read_and_checked():
    """The instructed amount and the entry's, as real bank files give them
    (no TxAmt): a return of 12.00 of a 120.00 debit does not fit it."""
    xml = (
        sepa_return.build_camt054(
            "NTF-9",
            IBAN,
            [{"end_to_end_id": "INV-2027-1/7", "code": "AM04", "amount": 12}],
        )
        .replace(b"<TxAmt>", b"<InstdAmt>")
        .replace(b"</TxAmt>", b"</InstdAmt>")
    )
    (entry,) = sepa_return.parse(xml)["entries"]
    assert entry["amounts"] == [
        ("AmtDtls/InstdAmt/Amt", Decimal("12.00"), "EUR"),
        ("Amt", Decimal("12.00"), "EUR"),
    ]
    assert entry["day"] == "2027-01-20"
    issue = sepa_return.check_amounts(entry, Decimal("120.00"), "EUR")
    assert "12.00" in issue and "120.00" in issue
    assert sepa_return.check_amounts(entry, Decimal("12.0"), "EUR") is None
    assert "USD" in sepa_return.check_amounts(entry, Decimal("12"), "USD")
    # A return after settlement without any amount is never taken as the debit's.
    assert sepa_return.check_amounts(
        dict(entry, amounts=[]), Decimal("120"), "EUR"
    ) == ("no amount in the file")
    # A reject before settlement may give none: the whole debit.
    assert (
        sepa_return.check_amounts(
            {"amounts": [], "amount_required": False}, Decimal("1"), "EUR"
        )
        is None
    )


@pytest.mark.parametrize("version", ["camt.054.001.02", "camt.054.001.08"])
def test_camt054_returns_are_read(version):
    xml = sepa_return.build_camt054(
        "NTF-1",
        IBAN,
        [{"end_to_end_id": "INV-2027-1/7", "code": "AC04", "amount": 240}],
        version=version,
    )
    parsed = sepa_return.parse(xml)
    assert parsed["version"] == version
    assert [
        (e["end_to_end_id"], e["code"], e["amount"]) for e in parsed["entries"]
    ] == [("INV-2027-1/7", "AC04", Decimal("240.00"))]


def test_other_files_are_refused():
    with pytest.raises(sepa_return.ReturnFileError, match="not an XML file"):
        sepa_return.parse(b"AC04;INV-1")
    with pytest.raises(sepa_return.ReturnFileError, match="unsupported file type"):
        sepa_return.parse(
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"/>'
        )
    broken = sepa_return.build_camt054(
        "NTF-1", IBAN, [{"end_to_end_id": "X", "code": "AC04", "amount": 1}]
    ).replace(b"<CdtDbtInd>DBIT</CdtDbtInd>", b"")
    with pytest.raises(sepa_return.ReturnFileError, match="does not validate"):
        sepa_return.parse(broken)


def test_file_identity():
    assert sepa_return.file_hash(b"a") == sepa_return.file_hash(b"a")
    assert sepa_return.file_hash(b"a") != sepa_return.file_hash(b"b")


def test_a_whole_file_rejected_covers_each_debit_of_the_file():
    from lib import sepa

    from .test_sepa import CREDITOR, _payments

    pain008 = sepa.build_pain008(CREDITOR, _payments(), message_id="MSG-9")
    parsed = sepa_return.parse(
        sepa_return.build_pain002("STS-9", "MSG-9", [], file_code="FF01")
    )
    [entry] = parsed["entries"]
    assert (entry["end_to_end_id"], entry["original_message_id"], entry["code"]) == (
        None,
        "MSG-9",
        "FF01",
    )
    assert sepa_return.end_to_end_ids(pain008) == ["INV/2027/00001", "INV/2027/00002"]
