import logging

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.osv import expression
from odoo.tools.sql import column_exists

_logger = logging.getLogger(__name__)

# Failed sending days after which someone is asked to look at an invoice.
SEND_FAILED_DAYS_ALERT = 3


class AccountMove(models.Model):
    """What sending a subscription invoice does: the email queued with its PDF
    (the e-invoice embedded where the customer asks for one), or the send-by-post
    activity; the invoice stays to send until one of them exists."""

    _inherit = "account.move"

    invoice_sent_date = fields.Date(
        string="Delivered On",
        compute="_compute_invoice_sent_date",
        store=True,
        readonly=False,
        copy=False,
        help="Day the invoice reached the customer: emailed, printed or marked as "
        "sent. Payment reminders wait for it.",
    )
    subscription_send_error = fields.Text(
        string="Sending Error",
        copy=False,
        readonly=True,
        help="Why the last attempt to send this subscription invoice failed; it is "
        "tried again on the next runs.",
    )
    subscription_send_error_date = fields.Date(
        string="Last Failed Sending", copy=False, readonly=True
    )
    subscription_send_failed_days = fields.Integer(
        string="Failed Sending Days", copy=False, readonly=True
    )
    subscription_edi_error = fields.Text(
        string="E-invoice Error",
        copy=False,
        readonly=True,
        help="The e-invoice (Factur-X, UBL...) of this invoice could not be built: "
        "the PDF was emailed without it. Fix what the message names.",
    )

    # === COMPUTE METHODS === #

    @api.depends("is_move_sent")
    def _compute_invoice_sent_date(self):
        for move in self:
            if move.is_move_sent and not move.invoice_sent_date:
                move.invoice_sent_date = move.company_id._subscription_today()
            else:
                move.invoice_sent_date = move.invoice_sent_date

    # === CRUD METHODS === #

    def _auto_init(self):
        # Invoices sent before this field existed were delivered on their date:
        # fill the column here rather than computing it for every entry.
        if not column_exists(self.env.cr, self._table, "invoice_sent_date"):
            self.env.cr.execute(
                "ALTER TABLE account_move ADD COLUMN invoice_sent_date date"
            )
            self.env.cr.execute(
                """
                UPDATE account_move SET invoice_sent_date = COALESCE(invoice_date, date)
                 WHERE is_move_sent
                """
            )
        return super()._auto_init()

    # === BUSINESS METHODS === #

    @api.model
    def _get_subscription_send_domain(self):
        """Invoices to send now: flagged, and not failed already today (in the
        company's time zone), so that a run never loops on a failing invoice."""
        domains = []
        for company in self.env["res.company"].sudo().search([]):
            today = company._subscription_today()
            domains.append(
                [
                    ("company_id", "=", company.id),
                    "|",
                    ("subscription_send_error_date", "=", False),
                    ("subscription_send_error_date", "<", today),
                ]
            )
        return expression.AND(
            [[("subscription_to_send", "=", True)], expression.OR(domains)]
        )

    def _get_reminder_exclusion_rules(self):
        # No payment reminder for an invoice the customer never received.
        return [
            *super()._get_reminder_exclusion_rules(),
            ([("invoice_sent_date", "!=", False)], self._get_not_delivered_reason),
        ]

    def _get_not_delivered_reason(self):
        self.ensure_one()
        return _(
            "%(invoice)s was never sent to the customer: no reminder for an "
            "invoice they did not receive. Send it first.",
            invoice=self.display_name,
        )

    def _get_all_reconciled_invoice_partials(self):
        # Rendering invoices ahead of sending (their payments read beforehand
        # for the whole chunk): an invoice with nothing reconciled has no
        # payment to print, without a query per invoice.
        if self.env.context.get("subscription_rendering_ahead") and not (
            self.line_ids.matched_debit_ids or self.line_ids.matched_credit_ids
        ):
            return []
        return super()._get_all_reconciled_invoice_partials()

    def _get_subscription_responsible(self):
        self.ensure_one()
        return (
            self.subscription_contract_id.user_id
            or self.invoice_user_id
            or self.env.user
        )

    def _subscription_send(self):
        """Send posted subscription invoices through Odoo's invoice sending (PDF
        attached with the e-invoice where the customer asks for one, the plan's
        template, the customer's language). A customer without email gets no
        email: the salesperson is asked to post it. Return the invoices sent;
        the others stay to send (``subscription_to_send``) with their error."""
        to_send = self.filtered(
            lambda m: m.subscription_to_send and m.state == "posted"
        )
        if not to_send:
            return self.browse()
        with_email = to_send.filtered(lambda m: m.partner_id.email)
        sent = self.browse()
        sender = self.env["account.move.send"]
        for template, moves in with_email.grouped(
            lambda m: m._subscription_mail_template()
        ).items():
            sent |= sender._subscription_send_by_email(moves, template)
        for move in to_send - with_email:
            try:
                with self.env.cr.savepoint():
                    move._subscription_schedule_post_activity()
                    sent |= move
            except Exception as error:  # pylint: disable=broad-except
                move._subscription_send_failed(error)
        sent._subscription_mark_sent()
        return sent

    def _subscription_schedule_post_activity(self):
        self.ensure_one()
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=_("Send by post"),
            note=_(
                "%(customer)s has no email address: print this invoice and "
                "send it by post, or add an email address to the customer.",
                customer=self.partner_id.display_name,
            ),
            user_id=self._get_subscription_responsible().id,
        )

    def _subscription_mark_sent(self):
        """Sent: nothing left to send, no error left."""
        if not self:
            return
        values = {"subscription_to_send": False}
        if any(self.mapped("subscription_send_error_date")):
            values.update(
                subscription_send_error=False,
                subscription_send_error_date=False,
                subscription_send_failed_days=0,
            )
        self.write(values)

    def _subscription_send_failed(self, error):
        """Sending failed: the invoice stays to send and is tried again on the
        next days; after SEND_FAILED_DAYS_ALERT days someone is asked once."""
        if isinstance(error, Exception):
            message = str(error.args[0]) if error.args else repr(error)
        else:
            message = str(error)
        for move in self:
            today = move.company_id._subscription_today()
            days = move.subscription_send_failed_days
            if move.subscription_send_error_date != today:
                days += 1
            _logger.info("Sending invoice %s failed: %s", move.name, message)
            move.write(
                {
                    "subscription_send_error": message,
                    "subscription_send_error_date": today,
                    "subscription_send_failed_days": days,
                }
            )
            move._message_log(
                body=_(
                    "This invoice could not be sent, it is tried again tomorrow: "
                    "%(error)s",
                    error=message,
                )
            )
            if days == SEND_FAILED_DAYS_ALERT:
                move.activity_schedule(
                    "mail.mail_activity_data_todo",
                    summary=_("Invoice not sent"),
                    note=_(
                        "%(invoice)s could not be sent to %(customer)s for %(days)s "
                        "days: %(error)s. Fix the problem (it is tried again every "
                        "day) or send the invoice by hand.",
                        invoice=move.name,
                        customer=move.partner_id.display_name,
                        days=days,
                        error=message,
                    ),
                    user_id=move._get_subscription_responsible().id,
                )

    def _subscription_edi_failed(self, errors):
        """The PDF went out without its e-invoice: keep the reason on each
        invoice (``errors``: {message: invoices}), and ask once per company while
        the activity is open, not once per invoice."""
        summary = _("E-invoice error")
        for message, moves in errors.items():
            moves.write({"subscription_edi_error": message})
        failed = self.browse().union(*errors.values())
        for company, moves in failed.grouped("company_id").items():
            if self.search_count(
                [
                    ("company_id", "=", company.id),
                    ("subscription_edi_error", "!=", False),
                    ("activity_ids.summary", "=", summary),
                ],
                limit=1,
            ):
                continue
            lines = []
            for move in moves:
                for line in move.subscription_edi_error.splitlines():
                    if line not in lines:
                        lines.append(line)
            first = moves[0]
            first.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary,
                note=Markup("<p>%s</p><p>%s</p>")
                % (
                    _(
                        "The e-invoice of %(count)s invoice(s) could not be built; "
                        "their PDF was emailed without it. Fix what follows, then "
                        "find them with the filter E-invoice Errors:",
                        count=len(moves),
                    ),
                    Markup("<br/>").join(lines[:20]),
                ),
                user_id=first._get_subscription_responsible().id,
            )
