"""SEPA direct debit returns reported by the bank in files: the ``pain.002``
payment status report (rejects before settlement) and the ``camt.054`` debit
notification (returns, refunds and rejects after settlement).

Accepted versions, each validated against its official ISO 20022 schema
(lib/schemas/): pain.002.001.03 (the EPC SDD implementation guidelines' R-message
still sent by most banks), camt.054.001.02 and camt.054.001.08.

Pure Python: bytes in, plain dicts out.
"""

import hashlib
from decimal import Decimal
from pathlib import Path

from lxml import etree

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
ISO = "urn:iso:std:iso:20022:tech:xsd:"
VERSIONS = ("pain.002.001.03", "camt.054.001.02", "camt.054.001.08")
_SCHEMAS = {}


class ReturnFileError(ValueError):
    """The file is not a return file this module reads."""


def file_hash(content):
    """The identity of a file: the same bytes are the same file."""
    return hashlib.sha256(content).hexdigest()


def _schema(version):
    if version not in _SCHEMAS:
        _SCHEMAS[version] = etree.XMLSchema(
            etree.parse(str(SCHEMA_DIR / f"{version}.xsd"))
        )
    return _SCHEMAS[version]


def validate(content):
    """Parse ``content`` and validate it against the schema of its version;
    return (tree, version)."""
    try:
        tree = etree.fromstring(
            content, etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError as error:
        raise ReturnFileError(f"not an XML file: {error}") from error
    namespace = etree.QName(tree).namespace or ""
    version = namespace.removeprefix(ISO)
    if not namespace.startswith(ISO) or version not in VERSIONS:
        raise ReturnFileError(
            f"unsupported file type {namespace or tree.tag!r}; accepted: "
            + ", ".join(VERSIONS)
        )
    schema = _schema(version)
    if not schema.validate(tree):
        raise ReturnFileError(
            f"the {version} file does not validate: {schema.error_log.last_error}"
        )
    return tree, version


def _text(node, path, ns):
    value = node.findtext(path, None, ns)
    return value.strip() if value else None


def parse(content):
    """The returned debits of a pain.002 or camt.054 file.

    Returns ``{"version", "message_id", "entries": [{"end_to_end_id", "code",
    "amount" (Decimal or None), "info"}]}``; each entry is one debit the bank
    rejected or returned. Accepted transactions of a status report are left
    out."""
    tree, version = validate(content)
    ns = {"d": ISO + version}
    entries = []
    if version.startswith("pain.002"):
        report = tree.find("d:CstmrPmtStsRpt", ns)
        message_id = _text(report, "d:GrpHdr/d:MsgId", ns)
        day = (_text(report, "d:GrpHdr/d:CreDtTm", ns) or "")[:10] or None
        entries = _pain002_entries(report, ns)
        for entry in entries:
            entry["day"] = day
    else:
        notification = tree.find("d:BkToCstmrDbtCdtNtfctn", ns)
        message_id = _text(notification, "d:GrpHdr/d:MsgId", ns)
        for ntry in notification.iterfind(".//d:Ntry", ns):
            transactions = ntry.findall("d:NtryDtls/d:TxDtls", ns)
            day = (
                _text(ntry, "d:BookgDt/d:Dt", ns)
                or (_text(ntry, "d:BookgDt/d:DtTm", ns) or "")[:10]
                or _text(ntry, "d:ValDt/d:Dt", ns)
                or None
            )
            for tx in transactions:
                if tx.find("d:RtrInf", ns) is None:
                    continue
                amounts = _amounts(
                    tx,
                    ("d:AmtDtls/d:TxAmt/d:Amt", "d:AmtDtls/d:InstdAmt/d:Amt", "d:Amt"),
                    ns,
                )
                if len(transactions) == 1:
                    # The entry's amount is this one transaction's.
                    amounts += _amounts(ntry, ("d:Amt",), ns)
                entries.append(
                    {
                        "end_to_end_id": _text(tx, "d:Refs/d:EndToEndId", ns),
                        "code": _text(tx, "d:RtrInf/d:Rsn/d:Cd", ns),
                        "amount": amounts[0][1] if amounts else None,
                        "amounts": amounts,
                        "amount_required": True,
                        "info": _text(tx, "d:RtrInf/d:AddtlInf", ns),
                        "day": day,
                    }
                )
    return {"version": version, "message_id": message_id, "entries": entries}


def _amounts(node, paths, ns):
    """[(path, Decimal, currency)] of every amount found at ``paths``."""
    found = []
    for path in paths:
        amount = node.find(path, ns)
        if amount is not None and amount.text and amount.text.strip():
            found.append(
                (
                    path.replace("d:", ""),
                    Decimal(amount.text.strip()),
                    amount.get("Ccy"),
                )
            )
    return found


def check_amounts(entry, amount, currency):
    """Why the amounts of a return ``entry`` do not fit a debit of ``amount``
    (Decimal, in ``currency``, an ISO code), or None. Every amount the file
    gives must be the debit's; a return after settlement (camt.054) must give
    one, a reject before it (pain.002) rejects the whole debit."""
    amounts = entry.get("amounts") or []
    if not amounts:
        return "no amount in the file" if entry.get("amount_required") else None
    wrong = [
        f"{path} {value:.2f} {ccy or ''}".strip()
        for path, value, ccy in amounts
        if value != amount or (ccy and ccy != currency)
    ]
    if wrong:
        return f"the file says {', '.join(wrong)}; the debit is {amount:.2f} {currency}"
    return None


def _pain002_entries(report, ns):
    """Rejected transactions; a payment information block or a whole file
    rejected without transaction details gives one entry without end-to-end id
    but with the original message (and payment information) id: every debit
    of it is rejected. A transaction without status has its block's, or the
    file's."""
    group = report.find("d:OrgnlGrpInfAndSts", ns)
    original_message = _text(group, "d:OrgnlMsgId", ns)
    group_status = _text(group, "d:GrpSts", ns)
    group_code = _text(group, "d:StsRsnInf/d:Rsn/d:Cd", ns)
    entries = []
    blocks = report.findall("d:OrgnlPmtInfAndSts", ns)
    for block in blocks:
        block_status = _text(block, "d:PmtInfSts", ns) or group_status
        block_code = _text(block, "d:StsRsnInf/d:Rsn/d:Cd", ns) or group_code
        transactions = block.findall("d:TxInfAndSts", ns)
        for tx in transactions:
            if (_text(tx, "d:TxSts", ns) or block_status) != "RJCT":
                continue
            amounts = _amounts(
                tx,
                (
                    "d:OrgnlTxRef/d:Amt/d:InstdAmt",
                    "d:OrgnlTxRef/d:Amt/d:EqvtAmt/d:Amt",
                    "d:OrgnlTxRef/d:IntrBkSttlmAmt",
                ),
                ns,
            )
            entries.append(
                {
                    "end_to_end_id": _text(tx, "d:OrgnlEndToEndId", ns),
                    "code": _text(tx, "d:StsRsnInf/d:Rsn/d:Cd", ns) or block_code,
                    "amount": amounts[0][1] if amounts else None,
                    "amounts": amounts,
                    "info": _text(tx, "d:StsRsnInf/d:AddtlInf", ns),
                }
            )
        if not transactions and block_status == "RJCT":
            entries.append(
                {
                    "end_to_end_id": None,
                    "original_message_id": original_message,
                    "payment_info_id": _text(block, "d:OrgnlPmtInfId", ns),
                    "code": block_code,
                    "amount": None,
                    "info": _text(block, "d:StsRsnInf/d:AddtlInf", ns),
                }
            )
    if not blocks and group_status == "RJCT":
        entries.append(
            {
                "end_to_end_id": None,
                "original_message_id": original_message,
                "payment_info_id": None,
                "code": group_code,
                "amount": None,
                "info": _text(group, "d:StsRsnInf/d:AddtlInf", ns),
            }
        )
    return entries


def end_to_end_ids(pain008, payment_info_id=None):
    """The end-to-end ids of a pain.008 file we sent, or of one of its payment
    information blocks: what a file-level or block-level rejection covers."""
    tree = etree.fromstring(pain008)
    ids = []
    for block in tree.iter("{*}PmtInf"):
        if payment_info_id and block.findtext("{*}PmtInfId") != payment_info_id:
            continue
        ids += [node.text for node in block.iter("{*}EndToEndId")]
    return ids


# --- builders, for tests and for a bank simulator ---------------------------


def build_pain002(
    message_id, original_message_id, rejects, created="2027-01-16", file_code=None
):
    """A pain.002.001.03 status report rejecting ``rejects`` (dicts with
    end_to_end_id, code, amount, and optional info), or, with ``file_code``,
    rejecting the whole original file."""
    nsmap = {None: ISO + "pain.002.001.03"}
    q = f"{{{ISO}pain.002.001.03}}"

    def sub(parent, tag, text=None, **attrs):
        node = etree.SubElement(parent, q + tag, **attrs)
        if text is not None:
            node.text = str(text)
        return node

    root = etree.Element(q + "Document", nsmap=nsmap)
    report = sub(root, "CstmrPmtStsRpt")
    header = sub(report, "GrpHdr")
    sub(header, "MsgId", message_id)
    sub(header, "CreDtTm", f"{created}T08:00:00")
    group = sub(report, "OrgnlGrpInfAndSts")
    sub(group, "OrgnlMsgId", original_message_id)
    sub(group, "OrgnlMsgNmId", "pain.008.001.08")
    if file_code:
        sub(group, "GrpSts", "RJCT")
        sub(sub(sub(group, "StsRsnInf"), "Rsn"), "Cd", file_code)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    sub(group, "GrpSts", "PART")
    payment_info = sub(report, "OrgnlPmtInfAndSts")
    sub(payment_info, "OrgnlPmtInfId", f"{original_message_id}-1")
    for index, reject in enumerate(rejects, start=1):
        tx = sub(payment_info, "TxInfAndSts")
        sub(tx, "StsId", f"{message_id}-{index}")
        sub(tx, "OrgnlEndToEndId", reject["end_to_end_id"])
        sub(tx, "TxSts", "RJCT")
        reason = sub(tx, "StsRsnInf")
        sub(sub(reason, "Rsn"), "Cd", reject["code"])
        if reject.get("info"):
            sub(reason, "AddtlInf", reject["info"])
        reference = sub(tx, "OrgnlTxRef")
        sub(sub(reference, "Amt"), "InstdAmt", f"{reject['amount']:.2f}", Ccy="EUR")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def build_camt054(
    message_id, iban, returns, version="camt.054.001.02", day="2027-01-20"
):
    """A camt.054 debit notification of the creditor's account ``iban`` with one
    entry per returned debit of ``returns`` (dicts with end_to_end_id, code,
    amount)."""
    q = f"{{{ISO}{version}}}"

    def sub(parent, tag, text=None, **attrs):
        node = etree.SubElement(parent, q + tag, **attrs)
        if text is not None:
            node.text = str(text)
        return node

    root = etree.Element(q + "Document", nsmap={None: ISO + version})
    notification = sub(root, "BkToCstmrDbtCdtNtfctn")
    header = sub(notification, "GrpHdr")
    sub(header, "MsgId", message_id)
    sub(header, "CreDtTm", f"{day}T08:00:00")
    ntfctn = sub(notification, "Ntfctn")
    sub(ntfctn, "Id", f"{message_id}-1")
    sub(ntfctn, "CreDtTm", f"{day}T08:00:00")
    sub(sub(sub(ntfctn, "Acct"), "Id"), "IBAN", iban)
    for ret in returns:
        amount = f"{ret['amount']:.2f}"
        entry = sub(ntfctn, "Ntry")
        sub(entry, "Amt", amount, Ccy="EUR")
        sub(entry, "CdtDbtInd", "DBIT")
        sub(entry, "Sts", "BOOK" if version == "camt.054.001.02" else None)
        if version != "camt.054.001.02":
            sub(entry[-1], "Cd", "BOOK")
        sub(sub(entry, "BookgDt"), "Dt", day)
        sub(sub(entry, "ValDt"), "Dt", day)
        transaction_code = sub(sub(entry, "BkTxCd"), "Domn")
        sub(transaction_code, "Cd", "PMNT")
        family = sub(transaction_code, "Fmly")
        sub(family, "Cd", "RDDT")
        sub(family, "SubFmlyCd", "UPDD")
        details = sub(sub(entry, "NtryDtls"), "TxDtls")
        sub(sub(details, "Refs"), "EndToEndId", ret["end_to_end_id"])
        if version != "camt.054.001.02":
            sub(details, "Amt", amount, Ccy="EUR")
            sub(details, "CdtDbtInd", "DBIT")
        sub(sub(sub(details, "AmtDtls"), "TxAmt"), "Amt", amount, Ccy="EUR")
        sub(sub(sub(details, "RtrInf"), "Rsn"), "Cd", ret["code"])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
