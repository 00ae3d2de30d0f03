import logging

import psycopg2

from odoo import Command, _, api, fields, models
from odoo.osv import expression

from ..lib import reminders

_logger = logging.getLogger(__name__)


class AccountMove(models.Model):
    _inherit = "account.move"

    reminder_policy_id = fields.Many2one(
        "subscription.reminder.policy",
        compute="_compute_reminder_policy_id",
        store=True,
        readonly=False,
        help="Payment reminders of this invoice: the contract's policy, else the "
        "customer's, else the plan's, else the company default when it applies.",
    )
    reminder_log_ids = fields.One2many(
        "subscription.reminder.log", "move_id", string="Reminders Sent"
    )
    reminder_last_step_id = fields.Many2one(
        "subscription.reminder.step",
        string="Last Reminder",
        compute="_compute_reminder_last",
        store=True,
    )
    reminder_last_date = fields.Date(
        string="Last Reminder Date", compute="_compute_reminder_last", store=True
    )
    reminder_next_step_id = fields.Many2one(
        "subscription.reminder.step",
        string="Next Reminder",
        compute="_compute_reminder_next",
        store=True,
    )
    reminder_next_date = fields.Date(
        string="Next Reminder Date",
        compute="_compute_reminder_next",
        store=True,
        index="btree_not_null",
    )
    reminder_error_date = fields.Date(copy=False, readonly=True)
    reminder_error_activity_id = fields.Many2one(
        "mail.activity",
        copy=False,
        readonly=True,
        ondelete="set null",
        help="The one activity telling that reminders of this invoice keep failing.",
    )

    # === COMPUTE METHODS === #

    @api.depends(
        "move_type",
        "partner_id.commercial_partner_id.reminder_policy_id",
        "subscription_contract_id.reminder_policy_id",
        "subscription_contract_id.plan_id.reminder_policy_id",
        "company_id.subscription_reminder_policy_id",
        "company_id.subscription_reminder_all_invoices",
    )
    def _compute_reminder_policy_id(self):
        for move in self:
            if move.move_type != "out_invoice":
                move.reminder_policy_id = False
                continue
            contract = move.subscription_contract_id
            company = move.company_id
            default = (
                company.subscription_reminder_policy_id
                if contract or company.subscription_reminder_all_invoices
                else False
            )
            move.reminder_policy_id = (
                contract.reminder_policy_id
                or move.partner_id.commercial_partner_id.reminder_policy_id
                or contract.plan_id.reminder_policy_id
                or default
            )

    @api.depends("reminder_log_ids.step_id", "reminder_log_ids.date")
    def _compute_reminder_last(self):
        for move in self:
            last = move.reminder_log_ids.sorted(
                lambda log: (log.step_id.offset_days, log.date, log.id)
            )[-1:]
            move.reminder_last_step_id = last.step_id
            move.reminder_last_date = last.date

    @api.depends(
        "state",
        "payment_state",
        "invoice_date_due",
        "reminder_policy_id.step_ids.offset_days",
        "reminder_last_step_id",
    )
    def _compute_reminder_next(self):
        for move in self:
            step = move._get_reminder_next_step()
            move.reminder_next_step_id = step
            move.reminder_next_date = (
                reminders.step_date(move.invoice_date_due, step.offset_days)
                if step
                else False
            )

    # === ACTION METHODS === #

    # === BUSINESS METHODS === #

    def _get_reminder_next_step(self):
        """The next step of the policy for this invoice, or an empty record when
        nothing is left to remind (paid, not posted, every step sent)."""
        self.ensure_one()
        if (
            self.move_type != "out_invoice"
            or self.state != "posted"
            or self.payment_state not in ("not_paid", "partial")
            or not self.invoice_date_due
            or not self.reminder_policy_id
        ):
            return self.env["subscription.reminder.step"]
        steps = self.reminder_policy_id._get_sorted_steps()
        if self.reminder_last_step_id:
            last = self.reminder_last_step_id
            steps = steps.filtered(
                lambda s: (s.offset_days, s.id) > (last.offset_days, last.id)
            )
        return steps[:1]

    @api.model
    def _get_open_invoice_domain(self):
        """Posted customer invoices that still wait for (part of) their payment."""
        return [
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("payment_state", "in", ("not_paid", "partial")),
        ]

    def _get_reminder_exclusion_rules(self):
        """[(domain an unpaid invoice must match to get reminders, method of
        the invoice giving the reason when it does not)], one per exclusion:
        the scheduled run (``_get_reminder_exclusion_domain``) and the buttons
        follow the same rules, and a button says the real reason. Extend this
        to exclude more (being collected, not delivered...)."""
        return []

    def _get_reminder_exclusion_domain(self):
        """Invoices that get no reminder although unpaid: those failing a rule
        of ``_get_reminder_exclusion_rules``."""
        return expression.AND(
            [[], *(domain for domain, __ in self._get_reminder_exclusion_rules())]
        )

    @api.model
    def _get_reminder_due_domain(self):
        return expression.AND(
            [
                [*self._get_open_invoice_domain(), ("reminder_next_date", "!=", False)],
                self.env["res.company"]._subscription_due_domain(
                    "reminder_next_date",
                    skip_fields=(
                        "reminder_error_date",
                        "commercial_partner_id.reminder_paused_until",
                    ),
                ),
                self._get_reminder_exclusion_domain(),
            ]
        )

    @api.model
    def _cron_send_reminders(self, batch_size=500):
        """Daily: send the due reminder step of a bounded batch of invoices."""
        # Customers who paid (however the payment was matched) get their
        # subscriptions back before anything else.
        self.env["subscription.contract"]._resume_paid_customers()
        domain = self._get_reminder_due_domain()
        moves = self.search(domain, order="reminder_next_date, id", limit=batch_size)
        moves._send_reminders()
        remaining = self.search_count(domain) if len(moves) == batch_size else 0
        self.env["ir.cron"]._notify_progress(done=len(moves), remaining=remaining)

    def _send_reminders(self, today=None):
        """Send the latest due step of each invoice, one email per customer and
        step listing all its invoices; each group in its own savepoint."""
        groups = {}
        for move in self:
            move_today = today or move.company_id._subscription_today()
            steps = move.reminder_policy_id._get_sorted_steps()
            last = move.reminder_last_step_id
            last_index = list(steps).index(last) if last in steps else -1
            index = reminders.due_step(
                move.invoice_date_due,
                steps.mapped("offset_days"),
                last_index,
                move_today,
            )
            if index is None:
                continue
            # One email per invoice address (where the invoice went) and step.
            key = (move.partner_id, steps[index], move_today)
            groups.setdefault(key, self.browse())
            groups[key] |= move
        sent = self.browse()
        for (partner, step, day), moves in groups.items():
            sent |= moves._send_reminder_group(partner, step, day)
        sent._clear_reminder_error()
        return sent

    def _send_reminder_group(self, partner, step, day):
        """Send ``step`` for the invoices ``self`` in one email; when that fails,
        send each invoice on its own so that one failing invoice (a letter that
        cannot be rendered...) never blocks the others. Return what was sent."""
        try:
            with self.env.cr.savepoint():
                self._send_reminder_step(partner, step, day)
            return self
        except psycopg2.errors.UniqueViolation:
            # Another worker sent this step meanwhile: nothing to do.
            _logger.info("Reminder %s already sent for %s", step.name, self.ids)
            return self.browse()
        except Exception as error:  # pylint: disable=broad-except
            if len(self) == 1:
                self._log_reminder_error(step, error, day)
                return self.browse()
        sent = self.browse()
        for move in self:
            sent |= move._send_reminder_group(partner, step, day)
        return sent

    def _send_reminder_step(self, partner, step, today):
        """Send ``step`` for the invoices ``self`` (one email) to where the
        invoices went: their invoice address, else ``partner``."""
        partner = partner.commercial_partner_id
        email_partner = (self.partner_id | partner).filtered("email")[:1]
        channel = "email" if email_partner else "activity"
        # The unique key first: a second sender fails here, before any email.
        self.env["subscription.reminder.log"].create(
            [
                {
                    "move_id": move.id,
                    "step_id": step.id,
                    "partner_id": partner.id,
                    "date": today,
                    "channel": channel,
                }
                for move in self
            ]
        )
        self.env.flush_all()
        attachments = self.env["ir.attachment"]
        if step.print_letter:
            attachments |= self._render_reminder_letter(step)
        if channel == "email" and step.mail_template_id:
            self._send_reminder_email(step, email_partner, today, attachments)
        elif channel == "activity":
            for move in self:
                move._schedule_reminder_todo(
                    step,
                    _("Remind by phone or post: %(step)s", step=step.name),
                    _(
                        "%(customer)s has no email address: reminder %(step)s could "
                        "not be emailed. Call the customer or post the letter.",
                        customer=partner.display_name,
                        step=step.name,
                    ),
                    fallback=True,
                )
        if step.activity != "none":
            for move in self:
                move._schedule_reminder_todo(
                    step,
                    _("Payment reminder: %(step)s", step=step.name),
                    _(
                        "Reminder %(step)s was sent for %(invoice)s (%(amount)s due). "
                        "Follow up with the customer.",
                        step=step.name,
                        invoice=move.name,
                        amount=move.currency_id.format(move.amount_residual),
                    ),
                )
        if step.suspend_contract:
            contracts = self.subscription_contract_id.filtered(
                lambda c: c.state == "active"
            )
            contracts._suspend_for_non_payment(today)
        channel_label = dict(
            self.env["subscription.reminder.log"]
            ._fields["channel"]
            ._description_selection(self.env)
        )[channel]
        body = _(
            "Payment reminder %(step)s sent to %(customer)s (%(channel)s).",
            step=step.name,
            customer=(email_partner or partner).display_name,
            channel=channel_label,
        )
        self._message_log_batch(bodies=dict.fromkeys(self.ids, body))
        if attachments:
            self[:1]._message_log(
                body=_("Reminder letter %(step)s, to post.", step=step.name),
                attachment_ids=attachments.ids,
            )

    def _schedule_reminder_todo(self, step, summary, note, fallback=False):
        """A to-do on this invoice for whoever follows ``step`` up."""
        self.ensure_one()
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=note,
            user_id=self._get_reminder_activity_user(step, fallback=fallback).id,
        )

    def _get_reminder_activity_user(self, step, fallback=False):
        self.ensure_one()
        if step.activity == "accountant" and step.activity_user_id:
            return step.activity_user_id
        user = (
            self.subscription_contract_id.user_id
            or self.invoice_user_id
            or self.partner_id.user_id
        )
        if not user and fallback and step.activity_user_id:
            return step.activity_user_id
        return user or self.env.user

    def _send_reminder_email(self, step, partner, today, attachments):
        """One queued email for all the invoices, rendered in the customer's
        language with the company's template of the step."""
        first = self.sorted(lambda m: (m.invoice_date_due, m.id))[0]
        template = step.mail_template_id.with_context(
            reminder_moves=self.sorted(lambda m: (m.invoice_date_due, m.id)),
            reminder_today=today,
            reminder_step=step,
        )
        email_attachments = attachments
        if step.attach_invoice:
            for move in self:
                email_attachments |= move._get_reminder_invoice_pdf()
        template.send_mail(
            first.id,
            force_send=False,
            email_values={
                "recipient_ids": [Command.set(partner.ids)],
                "attachment_ids": [Command.set(email_attachments.ids)],
            },
            email_layout_xmlid="subscription_billing.mail_notification_customer",
        )

    def _get_reminder_invoice_pdf(self):
        self.ensure_one()
        if self.invoice_pdf_report_id:
            return self.invoice_pdf_report_id
        content, __ = self.env["ir.actions.report"]._render_qweb_pdf(
            "account.account_invoices", self.ids
        )
        return self.env["ir.attachment"].create(
            {
                "name": self._get_invoice_report_filename(),
                "raw": content,
                "mimetype": "application/pdf",
                "res_model": self._name,
                "res_id": self.id,
            }
        )

    def _render_reminder_letter(self, step):
        content, __ = (
            self.env["ir.actions.report"]
            .with_context(reminder_step=step)
            ._render_qweb_pdf(
                "subscription_billing.action_report_reminder_letter", self.ids
            )
        )
        first = self[0]
        return self.env["ir.attachment"].create(
            {
                "name": _(
                    "Reminder %(step)s - %(invoice)s.pdf",
                    step=step.name,
                    invoice=first.name,
                ),
                "raw": content,
                "mimetype": "application/pdf",
                "res_model": self._name,
                "res_id": first.id,
            }
        )

    def _log_reminder_error(self, step, error, today):
        """Retry tomorrow; the first failure only gets a note and one activity,
        not one a day while it keeps failing."""
        message = str(error.args[0]) if getattr(error, "args", None) else str(error)
        _logger.info("Reminder %s failed for %s: %s", step.name, self.ids, message)
        self.write({"reminder_error_date": today})
        for move in self.filtered(lambda m: not m.reminder_error_activity_id):
            body = _(
                "Payment reminder %(step)s could not be sent: %(error)s. It is "
                "tried again every day.",
                step=step.name,
                error=message,
            )
            move.message_post(body=body, subtype_xmlid="mail.mt_note")
            move.reminder_error_activity_id = move.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=_("Payment reminder failing"),
                note=body,
                user_id=move._get_reminder_activity_user(step, fallback=True).id,
            )

    def _clear_reminder_error(self):
        """A reminder went out again: close the activity of the failures."""
        failed = self.filtered("reminder_error_date")
        failed.reminder_error_activity_id.action_feedback(
            feedback=_("The payment reminder was sent.")
        )
        failed.write({"reminder_error_date": False})

    def _invoice_paid_hook(self):
        """Paying brings the service back: when a customer suspended for
        non-payment has nothing past due any more, its contracts resume."""
        res = super()._invoice_paid_hook()
        invoices = self.filtered(lambda m: m.move_type == "out_invoice")
        if invoices:
            self.env["subscription.contract"]._resume_paid_customers(
                invoices.commercial_partner_id, invoices._get_payment_days()
            )
        return res

    def _get_payment_days(self):
        """{commercial partner id: the latest day on which these invoices were
        paid} (the payment's date, not the day it was matched)."""
        days = {}
        for move in self:
            partials = move.line_ids.filtered(
                lambda line: line.account_type == "asset_receivable"
            ).matched_credit_ids
            day = max(partials.mapped("max_date"), default=False)
            partner = move.commercial_partner_id.id
            if day and (partner not in days or days[partner] < day):
                days[partner] = day
        return days
