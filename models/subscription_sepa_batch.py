from odoo import _, api, fields, models
from odoo.exceptions import UserError

REJECTION_CODES = [
    ("AC01", "AC01 - Incorrect account number"),
    ("AC04", "AC04 - Closed account"),
    ("AC06", "AC06 - Blocked account"),
    ("AC13", "AC13 - Debtor account is a consumer account"),
    ("AG01", "AG01 - Direct debit forbidden on this account"),
    ("AG02", "AG02 - Invalid operation code"),
    ("AM04", "AM04 - Insufficient funds"),
    ("AM05", "AM05 - Duplicate collection"),
    ("BE05", "BE05 - Unknown creditor"),
    ("FF01", "FF01 - Invalid file format"),
    ("MD01", "MD01 - No valid mandate"),
    ("MD02", "MD02 - Missing or wrong mandate data"),
    ("MD06", "MD06 - Refund requested by the debtor"),
    ("MD07", "MD07 - Debtor deceased"),
    ("MS02", "MS02 - Refused by the debtor"),
    ("MS03", "MS03 - Reason not specified"),
    ("RC01", "RC01 - Wrong bank identifier (BIC)"),
    ("RR01", "RR01 - Missing debtor account or identification"),
    ("RR02", "RR02 - Missing debtor name or address"),
    ("RR03", "RR03 - Missing creditor name or address"),
    ("RR04", "RR04 - Regulatory reason"),
    ("SL01", "SL01 - Specific service of the debtor's bank"),
]

# What each EPC reason code does to the mandate, beyond reopening the invoice
# (the one table; README "SEPA direct debit" repeats it):
# - "keep": the mandate stays active; the invoice follows the reminders.
# - "account": the debtor's account cannot be debited (wrong, closed, blocked,
#   no direct debit, or data of the holder missing): the mandate is suspended
#   until a new account is chosen on it; the customer is emailed for one.
# - "mandate": the mandate itself is not valid for the bank: it is revoked and
#   the customer is emailed to sign a new one.
# - "deceased": the mandate is revoked; no email (the debtor died): the
#   salesperson's activity says to contact the estate.
REJECTION_EFFECTS = {
    "AC01": "account",  # account number wrong: a new one is needed
    "AC04": "account",  # account closed
    "AC06": "account",  # account blocked (by the bank or the debtor)
    "AC13": "mandate",  # consumer account under a B2B mandate: a CORE one
    "AG01": "account",  # no direct debit allowed on this account
    "AG02": "keep",  # operation code of our file
    "AM04": "keep",  # insufficient funds: the next debit may pass
    "AM05": "keep",  # duplicate collection: ours to check
    "BE05": "keep",  # creditor unknown: our creditor identifier to check
    "FF01": "keep",  # our file's format
    "MD01": "mandate",  # no valid mandate at the debtor's bank
    "MD02": "mandate",  # mandate data missing or wrong: sign it again
    "MD06": "keep",  # refund asked by the debtor (within 8 weeks)
    "MD07": "deceased",  # debtor deceased
    "MS02": "keep",  # this debit refused by the debtor
    "MS03": "keep",  # no reason given
    "RC01": "account",  # the debtor's bank BIC is wrong
    "RR01": "account",  # debtor account or identification missing
    "RR02": "account",  # debtor name or address missing
    "RR03": "keep",  # our (creditor) name or address missing
    "RR04": "keep",  # regulatory reason: nothing the customer can change
    "SL01": "account",  # the debtor's bank blocks our debits (customer's service)
}


class SubscriptionSepaBatch(models.Model):
    _name = "subscription.sepa.batch"
    _description = "SEPA Direct Debit Collection"
    _inherit = ["mail.thread"]
    _order = "collection_date desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Reference",
        required=True,
        copy=False,
        readonly=True,
        default=lambda self: _("New"),
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        ondelete="restrict",
    )
    collection_date = fields.Date(required=True, tracking=True, index=True)
    journal_id = fields.Many2one(
        "account.journal",
        string="Bank Journal",
        required=True,
        check_company=True,
        domain="[('type', '=', 'bank')]",
        ondelete="restrict",
        help="The bank account the amounts are collected on.",
    )
    scheme = fields.Selection(
        [("CORE", "Core"), ("B2B", "Business to business")],
        default="CORE",
        required=True,
    )
    pain_version = fields.Selection(
        [
            ("pain.008.001.02", "pain.008.001.02"),
            ("pain.008.001.08", "pain.008.001.08"),
        ],
        string="File Format",
        required=True,
        default=lambda self: self.env.company.sepa_pain_version,
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("generated", "File Generated"),
            ("sent", "Sent to Bank"),
            ("done", "Done"),
            ("cancel", "Cancelled"),
        ],
        default="draft",
        required=True,
        tracking=True,
        index=True,
        copy=False,
    )
    line_ids = fields.One2many("subscription.sepa.batch.line", "batch_id", "Lines")
    currency_id = fields.Many2one(related="company_id.currency_id")
    amount_total = fields.Monetary(compute="_compute_amount_total", store=True)
    line_count = fields.Integer(compute="_compute_amount_total", store=True)
    file_id = fields.Many2one("ir.attachment", copy=False, readonly=True)
    message_identifier = fields.Char(copy=False, readonly=True)

    # === COMPUTE METHODS === #

    @api.depends("line_ids.amount", "line_ids.state")
    def _compute_amount_total(self):
        for batch in self:
            lines = batch.line_ids.filtered(lambda line: line.state != "rejected")
            batch.amount_total = sum(lines.mapped("amount"))
            batch.line_count = len(lines)

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", _("New")) == _("New"):
                vals["name"] = self.env["ir.sequence"].next_by_code(
                    "subscription.sepa.batch"
                ) or _("New")
        return super().create(vals_list)

    # === ACTION METHODS === #

    def action_mark_sent(self):
        for batch in self:
            if batch.state != "generated":
                raise UserError(
                    _(
                        "Generate the file of %(batch)s before marking it as sent.",
                        batch=batch.name,
                    )
                )
        self.write({"state": "sent"})
        # The amendments of the mandates went to the bank with this file.
        self.line_ids.filtered(
            lambda line: line.state == "to_collect"
        ).mandate_id.filtered("amendment_original_iban").write(
            {"amendment_original_iban": False, "amendment_other_bank": False}
        )
        return True

    def action_done(self):
        """The bank collected: register and reconcile one payment per invoice."""
        for batch in self:
            if batch.state != "sent":
                raise UserError(
                    _(
                        "Collection %(batch)s must be sent to the bank first.",
                        batch=batch.name,
                    )
                )
            lines = batch.line_ids.filtered(lambda line: line.state == "to_collect")
            for line in lines:
                payments = (
                    self.env["account.payment.register"]
                    .with_context(
                        active_model="account.move", active_ids=line.move_id.ids
                    )
                    .create(
                        {
                            "journal_id": batch.journal_id.id,
                            "payment_date": batch.collection_date,
                            "amount": line.amount,
                            "communication": line.move_id.name,
                        }
                    )
                    ._create_payments()
                )
                line.write({"payment_id": payments[:1].id, "state": "collected"})
            lines.move_id.write({"payment_collection_pending": False})
            # A one-off mandate is done after its one debit (SEPA rulebook).
            oneoff = lines.mandate_id.filtered(
                lambda m: m.mandate_type == "oneoff" and m.state == "active"
            )
            oneoff.write({"state": "used"})
            oneoff._message_log_batch(
                bodies=dict.fromkeys(
                    oneoff.ids, _("One-off mandate used: no further direct debit.")
                )
            )
            batch.state = "done"
        return True

    def action_cancel(self):
        for batch in self:
            if batch.state not in ("draft", "generated"):
                raise UserError(
                    _(
                        "Collection %(batch)s was sent to the bank: record the "
                        "rejections instead of cancelling it.",
                        batch=batch.name,
                    )
                )
        self.line_ids.move_id.write({"payment_collection_pending": False})
        self.line_ids.unlink()
        self.write({"state": "cancel"})
        return True

    def action_open_reject_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Record Rejections"),
            "res_model": "subscription.sepa.reject",
            "view_mode": "form",
            "target": "new",
            "context": {"default_batch_id": self.id},
        }
