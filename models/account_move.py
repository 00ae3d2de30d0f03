from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, format_date


class AccountMove(models.Model):
    _inherit = "account.move"

    subscription_contract_id = fields.Many2one(
        "subscription.contract",
        string="Subscription",
        index="btree_not_null",
        copy=False,
        readonly=True,
        check_company=True,
        ondelete="restrict",
    )
    subscription_period_start = fields.Date(
        string="Billed Period Start", copy=False, readonly=True
    )
    subscription_period_end = fields.Date(
        string="Billed Period End", copy=False, readonly=True
    )
    subscription_to_send = fields.Boolean(
        string="Subscription Invoice to Send",
        copy=False,
        readonly=True,
        help="Posted by the billing cron and not sent to the customer yet.",
    )

    # === CRUD METHODS === #

    def init(self):
        res = super().init()
        # Exactly once: one non-cancelled invoice per contract and period.
        self.env.cr.execute(
            SQL(
                """
                CREATE UNIQUE INDEX IF NOT EXISTS account_move_subscription_period_uniq
                ON account_move (subscription_contract_id, subscription_period_start)
                 WHERE subscription_contract_id IS NOT NULL
                   AND subscription_period_start IS NOT NULL
                   AND state != 'cancel'
                """
            )
        )
        self.env.cr.execute(
            SQL(
                """
                CREATE INDEX IF NOT EXISTS account_move_subscription_to_send_idx
                    ON account_move (id) WHERE subscription_to_send
                """
            )
        )
        return res

    def write(self, vals):
        if "state" not in vals:
            return super().write(vals)
        subscription_moves = self.filtered("subscription_contract_id")
        if vals["state"] != "cancel":
            subscription_moves.filtered(
                lambda m: m.state == "cancel"
            )._check_period_free()
        result = super().write(vals)
        if vals["state"] == "cancel":
            for move in subscription_moves:
                move.subscription_contract_id._rewind_billing(
                    move.subscription_period_start
                )
            subscription_moves.subscription_to_send = False
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_rewind_subscription(self):
        for move in self.filtered(
            lambda m: m.subscription_contract_id and m.state != "cancel"
        ):
            move.subscription_contract_id._rewind_billing(
                move.subscription_period_start
            )

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        # Posted subscription invoices are sent by the billing cron (or at once by
        # "Invoice now"), also those an accountant posts after review.
        posted.filtered(
            lambda m: m.subscription_contract_id and not m.is_move_sent
        ).subscription_to_send = True
        return posted

    # === BUSINESS METHODS === #

    def _check_period_free(self):
        """A cancelled subscription invoice cannot come back while its period was
        billed again by another invoice."""
        for move in self:
            other = self.search(
                [
                    ("id", "!=", move.id),
                    ("subscription_contract_id", "=", move.subscription_contract_id.id),
                    ("subscription_period_start", "=", move.subscription_period_start),
                    ("state", "!=", "cancel"),
                ],
                limit=1,
            )
            if other:
                raise UserError(
                    _(
                        "%(move)s cannot be reset: the period from %(date)s of "
                        "contract %(contract)s has been invoiced again by %(other)s. "
                        "Cancel %(other)s first.",
                        move=move.display_name,
                        date=format_date(self.env, move.subscription_period_start),
                        contract=move.subscription_contract_id.name,
                        other=other.display_name,
                    )
                )

    @api.model
    def _cron_subscription_send(self, batch_size):
        """Send a batch of posted subscription invoices; return how many wait."""
        moves = self.search([("subscription_to_send", "=", True)], limit=batch_size)
        try:
            with self.env.cr.savepoint():
                moves._subscription_send()
        except Exception:  # pylint: disable=broad-except
            for move in moves:
                try:
                    with self.env.cr.savepoint():
                        move._subscription_send()
                except Exception as error:  # pylint: disable=broad-except
                    move.subscription_to_send = False
                    move.message_post(
                        body=_(
                            "This invoice could not be sent: %(error)s",
                            error=str(error),
                        )
                    )
        if len(moves) < batch_size:
            return 0
        return self.search_count([("subscription_to_send", "=", True)])

    def _subscription_send(self):
        """Send posted subscription invoices through Odoo's invoice sending (PDF
        attached, the plan's template, the customer's language). A customer
        without email gets no email: the salesperson is asked to post it."""
        to_send = self.filtered(
            lambda m: m.subscription_to_send and m.state == "posted"
        )
        if not to_send:
            return
        with_email = to_send.filtered(lambda m: m.partner_id.email)
        without_email = to_send - with_email
        # Queue the emails: the mail queue sends them, and retries them while the
        # mail server is down, so that nothing is lost.
        with_email = with_email.with_context(mail_notify_force_send=False)
        sender = self.env["account.move.send"]
        for template, moves in with_email.grouped(
            lambda m: m.subscription_contract_id.plan_id.invoice_mail_template_id
        ).items():
            settings = {"sending_methods": ["email"]}
            if template:
                settings["mail_template"] = template
            sender._generate_and_send_invoices(moves, allow_raising=False, **settings)
        for move in without_email:
            move.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=_("Send by post"),
                note=_(
                    "%(customer)s has no email address: print this invoice and "
                    "send it by post, or add an email address to the customer.",
                    customer=move.partner_id.display_name,
                ),
                user_id=(
                    move.subscription_contract_id.user_id
                    or move.invoice_user_id
                    or self.env.user
                ).id,
            )
        to_send.subscription_to_send = False
