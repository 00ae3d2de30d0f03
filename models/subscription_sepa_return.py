from decimal import Decimal

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime

from ..lib import sepa_return
from .subscription_sepa_batch import REJECTION_CODES


class SubscriptionSepaReturn(models.Model):
    _name = "subscription.sepa.return"
    _description = "SEPA Direct Debit Bank Return File"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _check_company_auto = True
    _sql_constraints = [
        (
            "file_hash_company_uniq",
            "unique(company_id, file_hash)",
            "This bank file was already imported: importing it again changes nothing.",
        ),
    ]

    name = fields.Char(string="File", required=True, readonly=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        readonly=True,
        default=lambda self: self.env.company,
        ondelete="restrict",
    )
    file_hash = fields.Char(required=True, readonly=True, index=True, copy=False)
    file_id = fields.Many2one(
        "ir.attachment", string="Bank File", readonly=True, copy=False
    )
    version = fields.Char(string="Format", readonly=True)
    message_identifier = fields.Char(string="Bank Message Id", readonly=True)
    line_ids = fields.One2many(
        "subscription.sepa.return.line", "return_id", string="Returns", readonly=True
    )
    applied_count = fields.Integer(
        string="Recorded", compute="_compute_counts", store=True
    )
    unmatched_count = fields.Integer(
        string="Not Recorded", compute="_compute_counts", store=True
    )

    # === COMPUTE METHODS === #

    @api.depends("line_ids.state")
    def _compute_counts(self):
        for record in self:
            applied = record.line_ids.filtered(lambda line: line.state == "applied")
            record.applied_count = len(applied)
            record.unmatched_count = len(record.line_ids) - len(applied)

    # === BUSINESS METHODS === #

    @api.model
    def _import_file(self, content, filename):
        """Record every return of a pain.002 or camt.054 file as the rejection
        wizard does, all or nothing; the same file twice changes nothing."""
        company = self.env.company
        digest = sepa_return.file_hash(content)
        existing = self.search(
            [("company_id", "=", company.id), ("file_hash", "=", digest)], limit=1
        )
        if existing:
            raise UserError(
                _(
                    "%(file)s was already imported on %(date)s (%(record)s): "
                    "nothing changed.",
                    file=filename,
                    date=format_datetime(self.env, existing.create_date),
                    record=existing.name,
                )
            )
        try:
            parsed = sepa_return.parse(content)
        except sepa_return.ReturnFileError as error:
            raise UserError(
                _(
                    "%(file)s cannot be imported: %(error)s. Import the pain.002 "
                    "status report or the camt.054 debit notification your bank "
                    "sent.",
                    file=filename,
                    error=str(error),
                )
            ) from error
        # One unit: if anything fails, nothing of the file is recorded.
        with self.env.cr.savepoint():
            record = self.create(
                {
                    "name": filename,
                    "company_id": company.id,
                    "file_hash": digest,
                    "version": parsed["version"],
                    "message_identifier": parsed["message_id"],
                }
            )
            record.file_id = self.env["ir.attachment"].create(
                {
                    "name": filename,
                    "raw": content,
                    "mimetype": "application/xml",
                    "res_model": record._name,
                    "res_id": record.id,
                }
            )
            entries = record._expand_entries(parsed["entries"])
            lines = self.env["subscription.sepa.return.line"].create(
                [record._prepare_line_vals(entry) for entry in entries]
            )
            lines._apply()
            record.message_post(
                body=_(
                    "%(version)s file imported: %(applied)s returns recorded, "
                    "%(other)s not recorded (listed below).",
                    version=record.version,
                    applied=record.applied_count,
                    other=record.unmatched_count,
                ),
                attachment_ids=record.file_id.ids,
            )
        return record

    def _expand_entries(self, entries):
        """A whole file or payment information block rejected: one entry per
        debit of the pain.008 file we sent (found by its message id)."""
        self.ensure_one()
        expanded = []
        for entry in entries:
            if entry["end_to_end_id"]:
                expanded.append(entry)
                continue
            batch = self.env["subscription.sepa.batch"].search(
                [
                    ("company_id", "=", self.company_id.id),
                    ("message_identifier", "=", entry["original_message_id"]),
                ],
                limit=1,
            )
            ids = (
                sepa_return.end_to_end_ids(
                    batch.file_id.raw, entry.get("payment_info_id")
                )
                if batch.file_id
                else []
            )
            if not ids:
                # Listed as unknown: the file or block is not one of ours.
                ids = [entry["payment_info_id"] or entry["original_message_id"]]
            expanded += [dict(entry, end_to_end_id=e2e) for e2e in ids]
        return expanded

    def _prepare_line_vals(self, entry):
        """Match a return to its debit by end-to-end id: the debit not rejected
        yet, else the one already rejected (nothing to do again)."""
        self.ensure_one()
        candidates = self.env["subscription.sepa.batch.line"].search(
            [
                ("end_to_end_id", "=", entry["end_to_end_id"] or ""),
                ("company_id", "=", self.company_id.id),
            ],
            order="id desc",
        )
        line = (
            candidates.filtered(lambda c: c.state != "rejected")[:1] or candidates[:1]
        )
        issue = (
            sepa_return.check_amounts(
                entry,
                # SEPA debits are in euros: the invoice's currency.
                Decimal(str(line.move_id.currency_id.round(line.amount))),
                line.move_id.currency_id.name,
            )
            if line
            else None
        )
        return {
            "return_id": self.id,
            "end_to_end_id": entry["end_to_end_id"] or "-",
            "code": entry["code"] or "MS03",
            # What the bank file says; nothing when it gives no amount (a whole
            # file or block rejected before settlement: every debit in full).
            "amount": float(entry["amount"])
            if entry.get("amount") is not None
            else 0.0,
            "amount_issue": issue or False,
            "date": entry.get("day") or False,
            "info": entry["info"],
            "batch_line_id": line.id,
        }


class SubscriptionSepaReturnLine(models.Model):
    _name = "subscription.sepa.return.line"
    _description = "SEPA Direct Debit Bank Return"
    _order = "return_id, id"

    return_id = fields.Many2one(
        "subscription.sepa.return", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="return_id.company_id", store=True)
    end_to_end_id = fields.Char(string="End-to-End Id", required=True)
    code = fields.Char(string="Reason Code", required=True)
    info = fields.Char(string="Bank Information")
    amount = fields.Float(help="The amount the bank file gives (0: none given).")
    amount_issue = fields.Char(
        string="Amount Check",
        readonly=True,
        help="Why the amounts of the bank file do not fit the debit: the return "
        "is listed, not recorded; check it with the bank.",
    )
    date = fields.Date(string="Bank Date", readonly=True)
    reason = fields.Char(string="Why Not Recorded", readonly=True)
    batch_line_id = fields.Many2one(
        "subscription.sepa.batch.line", string="Debit", index="btree_not_null"
    )
    move_id = fields.Many2one(related="batch_line_id.move_id", string="Invoice")
    state = fields.Selection(
        [
            ("applied", "Recorded"),
            ("unknown", "Unknown End-to-End Id"),
            ("already", "Already Recorded"),
            ("not_sent", "Collection Not Sent"),
            ("mismatch", "Other Amount"),
        ],
        readonly=True,
    )

    # === BUSINESS METHODS === #

    def _apply(self):
        """Record each matched return as the rejection wizard does; list the
        others with the reason they were not recorded."""
        labels = dict(REJECTION_CODES)
        for line in self:
            debit = line.batch_line_id
            if not debit:
                line.write(
                    {
                        "state": "unknown",
                        "reason": _("no debit of ours has this end-to-end id"),
                    }
                )
            elif debit.state == "rejected":
                line.write(
                    {"state": "already", "reason": _("this debit is already rejected")}
                )
            elif debit.batch_id.state not in ("sent", "done"):
                line.write(
                    {
                        "state": "not_sent",
                        "reason": _(
                            "collection %(batch)s was not sent to the bank",
                            batch=debit.batch_id.name,
                        ),
                    }
                )
            elif line.amount_issue:
                line.write({"state": "mismatch", "reason": line.amount_issue})
                debit.move_id.message_post(
                    body=_(
                        "Bank return %(file)s not recorded: %(issue)s. Check it "
                        "with the bank.",
                        file=line.return_id.name,
                        issue=line.amount_issue,
                    ),
                    subtype_xmlid="mail.mt_note",
                )
            else:
                code = line.code if line.code in labels else "MS03"
                note = line.info or ""
                if code != line.code:
                    note = _("bank code %(code)s", code=line.code) + (
                        f" - {note}" if note else ""
                    )
                debit._reject(code, note or False, day=line.date or None)
                line.state = "applied"
        return True
