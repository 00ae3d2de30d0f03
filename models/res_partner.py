from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

PAYMENT_STATUSES = [
    ("up_to_date", "Up to date"),
    ("overdue", "Overdue"),
    ("in_reminders", "In reminders"),
    ("suspended", "Suspended for non-payment"),
]


class ResPartner(models.Model):
    _inherit = "res.partner"

    subscription_contract_ids = fields.One2many(
        "subscription.contract", "partner_id", string="Subscriptions"
    )
    subscription_count = fields.Integer(compute="_compute_subscription_stats")
    subscription_mrr = fields.Monetary(
        string="Subscriptions MRR",
        compute="_compute_subscription_stats",
        currency_field="subscription_currency_id",
        help="Monthly recurring revenue of the active contracts of this customer "
        "and its contacts, in the company currency.",
    )
    subscription_currency_id = fields.Many2one(
        "res.currency", compute="_compute_subscription_stats"
    )

    reminder_policy_id = fields.Many2one(
        "subscription.reminder.policy",
        help="Reminders of this customer's invoices, instead of the plan's.",
    )
    reminder_paused_until = fields.Date(
        string="Reminders Paused Until",
        tracking=True,
        help="No payment reminder is sent to this customer until this date "
        "(included): a dispute, a promise to pay...",
    )
    reminder_pause_reason = fields.Char(string="Reminders Pause Reason", tracking=True)
    subscription_payment_status = fields.Selection(
        PAYMENT_STATUSES,
        string="Payment Status",
        compute="_compute_subscription_payment",
        search="_search_subscription_payment_status",
    )
    subscription_overdue_amount = fields.Monetary(
        string="Overdue Amount",
        compute="_compute_subscription_payment",
        currency_field="subscription_currency_id",
    )
    subscription_oldest_overdue_date = fields.Date(
        string="Oldest Overdue Date", compute="_compute_subscription_payment"
    )
    subscription_reminder_step_id = fields.Many2one(
        "subscription.reminder.step",
        string="Last Reminder Step",
        compute="_compute_subscription_payment",
    )
    subscription_reminder_last_date = fields.Date(
        string="Last Reminder Sent", compute="_compute_subscription_payment"
    )
    subscription_reminder_next_step_id = fields.Many2one(
        "subscription.reminder.step",
        string="Next Reminder Step",
        compute="_compute_subscription_payment",
    )
    subscription_reminder_next_date = fields.Date(
        string="Next Reminder Date", compute="_compute_subscription_payment"
    )

    # === COMPUTE METHODS === #

    @api.depends_context("company", "uid")
    def _compute_subscription_stats(self):
        self.subscription_count = 0
        self.subscription_mrr = 0.0
        self.subscription_currency_id = self.env.company.currency_id
        contract_model = self.env["subscription.contract"]
        if not self.ids or not contract_model.has_access("read"):
            return
        all_partners = self.with_context(active_test=False).search_fetch(
            [("id", "child_of", self.ids)], ["parent_id"]
        )
        groups = contract_model._read_group(
            [
                ("partner_id", "in", all_partners.ids),
                ("state", "not in", ("draft", "cancelled")),
            ],
            groupby=["partner_id", "state", "currency_id"],
            aggregates=["__count", "mrr:sum"],
        )
        company = self.env.company
        today = fields.Date.context_today(self)
        self_ids = set(self._ids)
        for partner, state, currency, count, mrr in groups:
            if state == "active":
                mrr = currency._convert(mrr, company.currency_id, company, today)
            else:
                mrr = 0.0
            while partner:
                if partner.id in self_ids:
                    partner.subscription_count += count
                    partner.subscription_mrr += mrr
                partner = partner.parent_id

    @api.depends_context("company")
    def _compute_subscription_payment(self):
        """Who is up to date: overdue invoices, reminders and suspensions of the
        commercial entity, from a few grouped queries."""
        commercials = self.commercial_partner_id
        moves = self.env["account.move"].sudo()
        today = self.env.company._subscription_today()
        open_domain = [
            *moves._get_open_invoice_domain(),
            ("commercial_partner_id", "in", commercials.ids),
            ("company_id", "in", self.env.companies.ids),
        ]
        overdue = {
            partner.id: (amount, oldest)
            for partner, amount, oldest in moves._read_group(
                [*open_domain, ("invoice_date_due", "<", today)],
                ["commercial_partner_id"],
                ["amount_residual_signed:sum", "invoice_date_due:min"],
            )
        }
        # In reminders: a reminder after the due date went out for an invoice
        # still past due (a courtesy notice or the due-day reminder does not
        # count).
        in_reminders = set(
            moves.search(
                self._get_in_reminders_domain(today, open_domain)
            ).commercial_partner_id.ids
        )
        reminded = {}
        for move in moves.search_fetch(
            [
                *open_domain,
                "|",
                ("reminder_last_step_id", "!=", False),
                ("reminder_next_date", "!=", False),
            ],
            [
                "commercial_partner_id",
                "reminder_last_step_id",
                "reminder_last_date",
                "reminder_next_step_id",
                "reminder_next_date",
            ],
        ):
            info = reminded.setdefault(move.commercial_partner_id.id, {})
            if move.reminder_last_date and (
                move.reminder_last_date
                >= info.get("last_date", move.reminder_last_date)
            ):
                info["last_date"] = move.reminder_last_date
                info["last_step"] = move.reminder_last_step_id
            if move.reminder_next_date and (
                move.reminder_next_date
                <= info.get("next_date", move.reminder_next_date)
            ):
                info["next_date"] = move.reminder_next_date
                info["next_step"] = move.reminder_next_step_id
        suspended = set(
            self.env["subscription.contract"]
            .sudo()
            .search(
                [
                    ("commercial_partner_id", "in", commercials.ids),
                    ("state", "=", "suspended"),
                    ("suspended_non_payment", "=", True),
                ]
            )
            .commercial_partner_id.ids
        )
        for partner in self:
            commercial = partner.commercial_partner_id.id
            amount, oldest = overdue.get(commercial, (0.0, False))
            info = reminded.get(commercial, {})
            if commercial in suspended:
                status = "suspended"
            elif commercial in in_reminders:
                status = "in_reminders"
            elif amount:
                status = "overdue"
            else:
                status = "up_to_date"
            partner.subscription_payment_status = status
            partner.subscription_overdue_amount = amount
            partner.subscription_oldest_overdue_date = oldest
            partner.subscription_reminder_step_id = info.get("last_step", False)
            partner.subscription_reminder_last_date = info.get("last_date", False)
            partner.subscription_reminder_next_step_id = info.get("next_step", False)
            partner.subscription_reminder_next_date = info.get("next_date", False)

    def _search_subscription_payment_status(self, operator, value):
        if operator not in ("=", "!=", "in", "not in"):
            raise NotImplementedError(
                _("Search the payment status with =, !=, in or not in.")
            )
        values = {value} if isinstance(value, str) else set(value or [])
        today = self.env.company._subscription_today()
        moves = self.env["account.move"].sudo()
        open_domain = moves._get_open_invoice_domain()
        late = set(
            moves.search(
                [*open_domain, ("invoice_date_due", "<", today)]
            ).commercial_partner_id.ids
        )
        reminded = set(
            moves.search(
                self._get_in_reminders_domain(today, open_domain)
            ).commercial_partner_id.ids
        )
        suspended = set(
            self.env["subscription.contract"]
            .sudo()
            .search([("state", "=", "suspended"), ("suspended_non_payment", "=", True)])
            .commercial_partner_id.ids
        )
        by_status = {
            "suspended": suspended,
            "in_reminders": reminded - suspended,
            "overdue": late - reminded - suspended,
        }
        ids = set()
        for status in values & set(by_status):
            ids |= by_status[status]
        not_up_to_date = late | reminded | suspended
        if "up_to_date" in values:
            domain = [("commercial_partner_id", "not in", list(not_up_to_date))]
            if ids:
                domain = ["|", ("commercial_partner_id", "in", list(ids)), *domain]
        else:
            domain = [("commercial_partner_id", "in", list(ids))]
        if operator in ("!=", "not in"):
            domain = ["!", *expression.normalize_domain(domain)]
        return domain

    @api.model
    def _get_in_reminders_domain(self, today, open_domain):
        """Open invoices past due for which a reminder after the due date was
        sent: what puts a customer "In reminders"."""
        return [
            *open_domain,
            ("invoice_date_due", "<", today),
            ("reminder_last_step_id.offset_days", ">", 0),
        ]

    # === ACTION METHODS === #

    def action_pause_reminders(self):
        return {
            "type": "ir.actions.act_window",
            "name": _("Pause Reminders"),
            "res_model": "subscription.reminder.pause",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_ids": self.commercial_partner_id.ids},
        }

    def action_resume_reminders(self):
        partners = self.commercial_partner_id.filtered("reminder_paused_until")
        partners.write({"reminder_paused_until": False, "reminder_pause_reason": False})
        return True

    def action_send_next_reminders(self):
        """Send now the next reminder of every open invoice of the customer; an
        invoice that may not be reminded is skipped with its reason, and the
        notification says which."""
        moves = self.env["account.move"].search(
            [
                *self.env["account.move"]._get_open_invoice_domain(),
                ("commercial_partner_id", "in", self.commercial_partner_id.ids),
                ("reminder_next_step_id", "!=", False),
            ]
        )
        if not moves:
            raise UserError(
                _(
                    "%(customer)s has no open invoice with a reminder left to send.",
                    customer=self.commercial_partner_id[:1].display_name,
                )
            )
        return moves.action_send_next_reminder()

    def action_view_late_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_billing.account_move_action_late_payers"
        )
        action["domain"] = [
            *self.env["account.move"]._get_open_invoice_domain(),
            ("commercial_partner_id", "=", self.commercial_partner_id.id),
        ]
        action["context"] = {}
        return action

    def action_view_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_billing.subscription_contract_action"
        )
        action["domain"] = [("partner_id", "child_of", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action
