from stdnum import iban as stdnum_iban

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, format_date

from ..lib import sepa

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

    def action_generate(self):
        """Re-check every debit, move a collection date the bank can no longer
        honour, then build the pain.008 file, validate it against the schema
        and attach it."""
        for batch in self:
            if batch.state not in ("draft", "generated"):
                raise UserError(
                    _("Collection %(batch)s was already sent.", batch=batch.name)
                )
            if not batch.line_ids.filtered(lambda line: line.state == "to_collect"):
                raise UserError(
                    _("Collection %(batch)s has nothing to collect.", batch=batch.name)
                )
            batch._check_lines()
            lines = batch.line_ids.filtered(lambda line: line.state == "to_collect")
            if not lines:
                # Nothing left after the checks: the removals and their messages
                # stay (no error, which would roll them back).
                batch.file_id.unlink()
                batch.state = "draft"
                batch.message_post(
                    body=_(
                        "No file generated: no debit is left to collect after the "
                        "checks. Cancel this collection."
                    ),
                    subtype_xmlid="mail.mt_note",
                )
                continue
            batch._check_collection_date()
            xml = batch._build_file(lines)
            batch.file_id.unlink()
            attachment = self.env["ir.attachment"].create(
                {
                    "name": f"{sepa.sanitize_id(batch.name, 60)}.xml",
                    "raw": xml,
                    "mimetype": "application/xml",
                    "res_model": batch._name,
                    "res_id": batch.id,
                }
            )
            batch.write({"file_id": attachment.id, "state": "generated"})
            batch.message_post(
                body=_(
                    "%(version)s file generated and validated against the "
                    "official schema: %(count)s debits, %(amount)s.",
                    version=batch.pain_version,
                    count=len(lines),
                    amount=batch.currency_id.format(batch.amount_total),
                ),
                attachment_ids=attachment.ids,
            )
        return True

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
            lines.mandate_id.write({"last_debit_date": batch.collection_date})
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

    # === BUSINESS METHODS === #

    def _check_lines(self):
        """Leave out, with a message on the collection and the invoice, every
        debit that must not reach the bank any more: invoice paid, cancelled,
        reversed or with another amount due, mandate no longer active."""
        self.ensure_one()
        for line in self.line_ids.filtered(lambda line: line.state == "to_collect"):
            reason = line._get_exclusion_reason()
            if reason:
                line.with_context(sepa_regenerating=True)._withdraw(reason)

    def _check_collection_date(self):
        """A file never asks for a collection before the bank can make it: the
        date moves to the first TARGET day at least one TARGET day after today
        (D-1, EPC rulebooks) and the debtors are told the new date."""
        self.ensure_one()
        today = self.company_id._subscription_today()
        earliest = sepa.min_collection_date(today)
        valid = max(sepa.next_target_day(self.collection_date), earliest)
        if valid == self.collection_date:
            return False
        previous = self.collection_date
        self.collection_date = valid
        self.message_post(
            body=_(
                "Collection date moved from %(old)s to %(new)s: the bank needs the "
                "file at least one TARGET business day before the collection. "
                "The debtors were told the new date.",
                old=format_date(self.env, previous),
                new=format_date(self.env, valid),
            ),
            subtype_xmlid="mail.mt_note",
        )
        lines = self.line_ids.filtered(lambda line: line.state == "to_collect")
        lines.prenotified = False
        lines.with_context(sepa_previous_date=previous)._send_prenotification()
        return True

    def _get_creditor_values(self):
        self.ensure_one()
        company = self.company_id
        bank = self.journal_id.bank_account_id
        if bank and not stdnum_iban.is_valid(bank.acc_number or ""):
            raise UserError(
                _(
                    "The bank account of journal %(journal)s (%(number)s) is not a "
                    "valid IBAN: correct it before generating a collection.",
                    journal=self.journal_id.name,
                    number=bank.acc_number,
                )
            )
        if not bank or not company.sepa_creditor_identifier:
            raise UserError(
                _(
                    "Set the SEPA creditor identifier of %(company)s and the bank "
                    "account of journal %(journal)s before generating a collection.",
                    company=company.name,
                    journal=self.journal_id.name,
                )
            )
        return {
            "name": company.name,
            "iban": bank.acc_number,
            "bic": bank.bank_bic,
            "creditor_id": company.sepa_creditor_identifier,
            "scheme": self.scheme,
        }

    def _build_file(self, lines):
        self.ensure_one()
        self.message_identifier = sepa.sanitize_id(
            f"{self.name}/{fields.Datetime.now():%Y%m%d%H%M%S}"
        )
        payments = [
            {
                "name": line.partner_id.commercial_partner_id.name,
                "iban": line.mandate_id.iban,
                "bic": line.mandate_id.bic,
                "amount": line.amount,
                "sequence_type": line.sequence_type,
                "collection_date": self.collection_date,
                "mandate_id": line.mandate_id.name,
                "mandate_date": line.mandate_id.signature_date,
                "description": _(
                    "Invoice %(invoice)s",
                    invoice=line.move_id.name,
                ),
                "endtoend_id": line.end_to_end_id,
                "original_iban": line.mandate_id.amendment_original_iban,
                "original_other_bank": line.mandate_id.amendment_other_bank,
            }
            for line in lines
        ]
        try:
            return sepa.build_pain008(
                self._get_creditor_values(),
                payments,
                self.pain_version,
                message_id=self.message_identifier,
            )
        except ValueError as error:
            raise UserError(
                _(
                    "The direct debit file of %(batch)s is not valid: %(error)s. "
                    "Check the IBAN and BIC of the mandates and of the bank journal.",
                    batch=self.name,
                    error=str(error),
                )
            ) from error

    @api.model
    def _cron_prepare_batches(self, batch_size=1000):
        """Gather the unpaid direct debit invoices due by the collection date
        (today + pre-notification days) into that day's collection and pre-notify
        the debtors, a bounded number of invoices per call."""
        companies = self.env["res.company"].search(
            [
                ("sepa_creditor_identifier", "!=", False),
                ("sepa_journal_id", "!=", False),
            ]
        )
        batches = self.browse()
        done = remaining = 0
        for company in companies:
            batch, count, left = self.with_company(company)._prepare_company_batch(
                company, batch_size
            )
            batches |= batch
            done += count
            remaining += left
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return batches

    def _get_collectable_domain(self, company, collection_date):
        """Invoices the collection run takes: due, on an active mandate, and
        not on a one-off mandate already used. Whatever the run must leave
        aside is left out here, so that the batch always progresses."""
        used_oneoff = self.env["subscription.sepa.mandate"]._search(
            [
                ("mandate_type", "=", "oneoff"),
                ("batch_line_ids.state", "in", ("to_collect", "collected")),
            ]
        )
        return [
            *self.env["account.move"]._get_open_invoice_domain(),
            ("company_id", "=", company.id),
            ("sepa_mandate_id", "!=", False),
            ("sepa_mandate_id.state", "=", "active"),
            ("sepa_mandate_id", "not in", used_oneoff),
            ("payment_collection_pending", "=", False),
            ("sepa_rejected", "=", False),
            ("invoice_date_due", "<=", collection_date),
        ]

    def _prepare_company_batch(self, company, batch_size=1000):
        """Return (the collections, invoices handled, invoices left for later).
        One collection per scheme: B2B debits never go out as CORE."""
        collection_date = sepa.earliest_collection_date(
            company._subscription_today(), company.sepa_prenotification_days
        )
        domain = self._get_collectable_domain(company, collection_date)
        moves = self.env["account.move"].search(
            domain, order="invoice_date_due, id", limit=batch_size
        )
        if not moves:
            return self.browse(), 0, 0
        found = moves
        euro = self.env.ref("base.EUR")
        others = moves.filtered(lambda m: m.currency_id != euro)
        for move in others:
            move.message_post(
                body=_(
                    "Not collected by direct debit: SEPA collects euros only and "
                    "this invoice is in %(currency)s. Ask for a transfer.",
                    currency=move.currency_id.name,
                ),
                subtype_xmlid="mail.mt_note",
            )
        others.write({"sepa_mandate_id": False})
        handled = others
        batches = self.browse()
        moves = moves - others
        # A one-off mandate is debited once: one invoice per one-off mandate.
        seen_oneoff = set()
        for move in moves.sorted(lambda m: (m.invoice_date_due, m.id)):
            mandate = move.sepa_mandate_id
            if mandate.mandate_type != "oneoff":
                continue
            if mandate.id in seen_oneoff:
                moves -= move
                move.message_post(
                    body=_(
                        "Not collected by direct debit: one-off mandate %(mandate)s "
                        "is already used for another invoice. Ask for a transfer "
                        "or a new mandate.",
                        mandate=mandate.name,
                    ),
                    subtype_xmlid="mail.mt_note",
                )
            seen_oneoff.add(mandate.id)
        for scheme, scheme_moves in moves.grouped(
            lambda m: m.sepa_mandate_id.scheme
        ).items():
            batch = self._get_or_create_draft(company, collection_date, scheme)
            lines = batch._add_moves(scheme_moves)
            lines._send_prenotification()
            batches |= batch
            handled |= scheme_moves
        # What still matches now is truly left for the next call.
        left = (
            self.env["account.move"].search_count(domain)
            if len(found) >= batch_size
            else 0
        )
        return batches, len(handled), left

    def _get_or_create_draft(self, company, collection_date, scheme):
        return self.search(
            [
                ("company_id", "=", company.id),
                ("collection_date", "=", collection_date),
                ("journal_id", "=", company.sepa_journal_id.id),
                ("scheme", "=", scheme),
                ("state", "=", "draft"),
            ],
            limit=1,
        ) or self.create(
            {
                "company_id": company.id,
                "collection_date": collection_date,
                "journal_id": company.sepa_journal_id.id,
                "pain_version": company.sepa_pain_version,
                "scheme": scheme,
            }
        )

    def _add_moves(self, moves):
        """One line per invoice; FRST on the first collection of a mandate."""
        self.ensure_one()
        vals_list = []
        first_seen = set()
        for move in moves.sorted(lambda m: (m.invoice_date_due, m.id)):
            mandate = move.sepa_mandate_id
            first = mandate.id not in first_seen and mandate._is_first_collection()
            first_seen.add(mandate.id)
            vals_list.append(
                {
                    "batch_id": self.id,
                    "move_id": move.id,
                    "mandate_id": mandate.id,
                    "amount": move.amount_residual,
                    "sequence_type": sepa.sequence_type(mandate.mandate_type, first),
                    "end_to_end_id": sepa.sanitize_id(f"{move.name}/{move.id}"),
                }
            )
        lines = self.env["subscription.sepa.batch.line"].create(vals_list)
        moves.write({"payment_collection_pending": True})
        return lines


class SubscriptionSepaBatchLine(models.Model):
    _name = "subscription.sepa.batch.line"
    _description = "SEPA Direct Debit Collection Line"
    _order = "batch_id, id"

    batch_id = fields.Many2one(
        "subscription.sepa.batch", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="batch_id.company_id", store=True)
    move_id = fields.Many2one(
        "account.move", string="Invoice", required=True, index=True, ondelete="restrict"
    )
    partner_id = fields.Many2one(related="move_id.partner_id")
    mandate_id = fields.Many2one(
        "subscription.sepa.mandate", required=True, index=True, ondelete="restrict"
    )
    currency_id = fields.Many2one(related="batch_id.currency_id")
    amount = fields.Monetary(required=True)
    sequence_type = fields.Selection(
        [("FRST", "First"), ("RCUR", "Recurrent"), ("OOFF", "One-off")],
        required=True,
    )
    end_to_end_id = fields.Char(string="End-to-End Id", required=True)
    state = fields.Selection(
        [
            ("to_collect", "To Collect"),
            ("collected", "Collected"),
            ("rejected", "Rejected"),
        ],
        default="to_collect",
        required=True,
        index=True,
    )
    payment_id = fields.Many2one("account.payment", readonly=True)
    rejection_code = fields.Selection(REJECTION_CODES, readonly=True)
    prenotified = fields.Boolean(readonly=True)

    # === CRUD METHODS === #

    def init(self):
        res = super().init()
        # An invoice is in at most one collection that was not rejected.
        self.env.cr.execute(
            SQL(
                """
                CREATE UNIQUE INDEX IF NOT EXISTS subscription_sepa_batch_line_move_uniq
                ON subscription_sepa_batch_line (move_id) WHERE state != 'rejected'
                """
            )
        )
        return res

    # === BUSINESS METHODS === #

    def _get_exclusion_reason(self):
        """Why this debit must not reach the bank any more, or False."""
        self.ensure_one()
        move = self.move_id
        mandate = self.mandate_id
        if move.state == "cancel":
            return _("the invoice is cancelled")
        if move.state != "posted":
            return _("the invoice is not posted")
        if move.payment_state == "reversed" or move.reversal_move_ids.filtered(
            lambda m: m.state == "posted"
        ):
            return _("the invoice was reversed by a credit note")
        if move.payment_state not in ("not_paid", "partial"):
            return _("the invoice is paid")
        if move.currency_id.compare_amounts(move.amount_residual, self.amount):
            return _(
                "the amount due changed from %(old)s to %(new)s",
                old=move.currency_id.format(self.amount),
                new=move.currency_id.format(move.amount_residual),
            )
        if mandate.state != "active":
            state = dict(mandate._fields["state"]._description_selection(self.env))
            return _(
                "mandate %(mandate)s is %(state)s",
                mandate=mandate.name,
                state=state[mandate.state].lower(),
            )
        return False

    def _withdraw(self, reason):
        """Take these debits out of their collection (not sent to the bank): the
        invoices are no longer being collected and follow the reminders (or the
        next collection when they are still due). A generated file is dropped."""
        for line in self:
            batch = line.batch_id
            move = line.move_id
            message = _(
                "Direct debit of %(invoice)s (%(amount)s) left out of collection "
                "%(batch)s: %(reason)s.",
                invoice=move.name,
                amount=line.currency_id.format(line.amount),
                batch=batch.name,
                reason=reason,
            )
            batch.message_post(body=message, subtype_xmlid="mail.mt_note")
            move.message_post(body=message, subtype_xmlid="mail.mt_note")
        batches = self.batch_id.filtered(lambda b: b.state == "generated")
        self.move_id.write({"payment_collection_pending": False})
        self.unlink()
        for batch in batches:
            batch.file_id.unlink()
            batch.state = "draft"
            if not self.env.context.get("sepa_regenerating"):
                batch.message_post(
                    body=_("The file was withdrawn: generate it again."),
                    subtype_xmlid="mail.mt_note",
                )
        return True

    def _send_prenotification(self):
        """Tell each debtor, before the collection, what will be debited: by
        email, or else by a printed letter the salesperson is asked to post."""
        template = self.env.ref(
            "subscription_billing.mail_template_sepa_prenotification",
            raise_if_not_found=False,
        )
        previous = self.env.context.get("sepa_previous_date")
        for line in self.filtered(lambda line: not line.prenotified):
            move = line.move_id
            if template and move.partner_id.email:
                try:
                    with self.env.cr.savepoint():
                        template.with_context(sepa_line=line).send_mail(
                            move.id, force_send=False
                        )
                except Exception as error:  # pylint: disable=broad-except
                    move._message_log(
                        body=_(
                            "The direct debit pre-notification could not be sent: "
                            "%(error)s",
                            error=str(error),
                        )
                    )
                    continue
            elif not move.partner_id.email:
                line._schedule_prenotification_letter()
            values = {
                "amount": line.currency_id.format(line.amount),
                "date": format_date(self.env, line.batch_id.collection_date),
                "mandate": line.mandate_id.name,
            }
            if previous:
                body = _(
                    "Direct debit of %(amount)s moved from %(previous)s to %(date)s: "
                    "the debtor was told the new date (mandate %(mandate)s).",
                    previous=format_date(self.env, previous),
                    **values,
                )
            else:
                body = _(
                    "Direct debit of %(amount)s on %(date)s announced to the "
                    "debtor (mandate %(mandate)s).",
                    **values,
                )
            move._message_log(body=body)
            line.prenotified = True

    def _schedule_prenotification_letter(self):
        """A debtor without email: the printable pre-notification letter is
        attached to the invoice and an activity asks to post it."""
        self.ensure_one()
        move = self.move_id
        content, __ = self.env["ir.actions.report"]._render_qweb_pdf(
            "subscription_billing.action_report_sepa_prenotification", self.ids
        )
        attachment = self.env["ir.attachment"].create(
            {
                "name": _("Direct debit notice - %(invoice)s.pdf", invoice=move.name),
                "raw": content,
                "mimetype": "application/pdf",
                "res_model": move._name,
                "res_id": move.id,
            }
        )
        move._message_log(
            body=_("Direct debit pre-notification letter, to post."),
            attachment_ids=attachment.ids,
        )
        contract = move.subscription_contract_id
        move.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=_("Post the direct debit notice"),
            note=_(
                "%(customer)s has no email address: print the attached direct debit "
                "notice (%(amount)s on %(date)s) and post it before the collection.",
                customer=move.partner_id.display_name,
                amount=self.currency_id.format(self.amount),
                date=format_date(self.env, self.batch_id.collection_date),
            ),
            user_id=(contract.user_id or move.invoice_user_id or self.env.user).id,
        )
        return attachment

    def _reject(self, code, note=False):
        """The bank returned the debit: reopen the invoice and back to reminders."""
        labels = dict(REJECTION_CODES)
        for line in self:
            if line.payment_id:
                line.payment_id.action_draft()
                line.payment_id.action_cancel()
            line.write({"state": "rejected", "rejection_code": code})
            line.move_id.write(
                {"payment_collection_pending": False, "sepa_rejected": True}
            )
            reason = f"{labels[code]} ({note})" if note else labels[code]
            message = _(
                "Direct debit rejected by the bank: %(reason)s. The invoice is open "
                "again and follows the payment reminders.",
                reason=reason,
            )
            line.move_id.message_post(body=message, subtype_xmlid="mail.mt_note")
            contract = line.move_id.subscription_contract_id
            if contract:
                contract.activity_schedule(
                    "mail.mail_activity_data_todo",
                    summary=_("Direct debit rejected"),
                    note=message,
                    user_id=(contract.user_id or self.env.user).id,
                )
            if code == "MD01" and line.mandate_id.state == "active":
                line.mandate_id._revoke(labels[code])
        return True
