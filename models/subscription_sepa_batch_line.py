from odoo import _, fields, models
from odoo.tools import SQL, format_date

from .subscription_sepa_batch import REJECTION_CODES


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
        # Databases from before the mandate's last collection was computed: a
        # date no debit of Odoo explains came from another system (kept as
        # such), and a debit rejected after Collected no longer counts.
        self.env.cr.execute(
            SQL(
                """
                UPDATE subscription_sepa_mandate m
                   SET previous_debit_date = m.last_debit_date
                 WHERE m.previous_debit_date IS NULL
                   AND m.last_debit_date IS NOT NULL
                   AND NOT EXISTS (
                       SELECT 1
                         FROM subscription_sepa_batch_line l
                         JOIN subscription_sepa_batch b ON b.id = l.batch_id
                        WHERE l.mandate_id = m.id
                          AND b.collection_date = m.last_debit_date)
                """
            )
        )
        self.env.cr.execute(
            SQL(
                """
                UPDATE subscription_sepa_mandate m
                   SET last_debit_date = GREATEST(
                       m.previous_debit_date,
                       (SELECT max(b.collection_date)
                          FROM subscription_sepa_batch_line l
                          JOIN subscription_sepa_batch b ON b.id = l.batch_id
                         WHERE l.mandate_id = m.id AND l.state = 'collected'))
                 WHERE m.last_debit_date IS DISTINCT FROM GREATEST(
                       m.previous_debit_date,
                       (SELECT max(b.collection_date)
                          FROM subscription_sepa_batch_line l
                          JOIN subscription_sepa_batch b ON b.id = l.batch_id
                         WHERE l.mandate_id = m.id AND l.state = 'collected'))
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
