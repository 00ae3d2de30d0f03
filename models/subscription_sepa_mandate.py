from dateutil.relativedelta import relativedelta
from stdnum import iban as stdnum_iban

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..lib import sepa
from .qr_code import qr_code_data_uri

# The SEPA rulebook: a mandate unused for 36 months expires.
MANDATE_VALIDITY_MONTHS = 36


class SubscriptionSepaMandate(models.Model):
    _name = "subscription.sepa.mandate"
    _description = "SEPA Direct Debit Mandate"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "signature_date desc, id desc"
    _check_company_auto = True
    _sql_constraints = [
        (
            "name_company_uniq",
            "unique(name, company_id)",
            "A mandate reference must be unique in the company: change the "
            "reference of the new mandate.",
        ),
    ]

    name = fields.Char(
        string="Mandate Reference",
        required=True,
        copy=False,
        tracking=True,
        default=lambda self: self._default_name(),
        help="Unique Mandate Reference (UMR), given to the bank with each "
        "collection. It can be changed until the mandate is signed.",
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        ondelete="restrict",
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Debtor",
        required=True,
        index=True,
        tracking=True,
        check_company=True,
        ondelete="restrict",
    )
    partner_bank_id = fields.Many2one(
        "res.partner.bank",
        string="Debtor Bank Account",
        required=True,
        tracking=True,
        check_company=True,
        domain="[('partner_id', '=', commercial_partner_id)]",
        ondelete="restrict",
    )
    commercial_partner_id = fields.Many2one(related="partner_id.commercial_partner_id")
    iban = fields.Char(related="partner_bank_id.acc_number", string="IBAN")
    bic = fields.Char(related="partner_bank_id.bank_bic", string="BIC")
    signature_date = fields.Date(tracking=True, copy=False)
    signature_place = fields.Char(tracking=True, copy=False)
    scheme = fields.Selection(
        [("CORE", "Core (consumers)"), ("B2B", "Business to business")],
        default="CORE",
        required=True,
        tracking=True,
    )
    mandate_type = fields.Selection(
        [("recurrent", "Recurrent"), ("oneoff", "One-off")],
        string="Type",
        default="recurrent",
        required=True,
        tracking=True,
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("active", "Active"),
            ("revoked", "Revoked"),
            ("expired", "Expired"),
            ("used", "Used"),
            ("suspended", "Suspended"),
        ],
        default="draft",
        required=True,
        tracking=True,
        index=True,
        copy=False,
    )
    last_debit_date = fields.Date(
        string="Last Collection",
        compute="_compute_last_debit_date",
        inverse="_inverse_last_debit_date",
        store=True,
        copy=False,
        index="btree_not_null",
        help="The last debit the bank collected and did not return: a debit "
        "rejected or returned never happened (the next one is FRST again and "
        "the 36 months of validity do not start from it).",
    )
    previous_debit_date = fields.Date(
        string="Last Collection Before Odoo",
        copy=False,
        help="For a mandate already debited by another system: the date of its "
        "last collection there (the next debit is RCUR).",
    )
    suspension_reason = fields.Char(
        string="Suspended Because",
        copy=False,
        readonly=True,
        help="The bank's return that stopped the direct debits of this mandate "
        "until the customer gives a new account or signs a new mandate.",
    )
    contract_ids = fields.One2many("subscription.contract", "mandate_id")
    batch_line_ids = fields.One2many(
        "subscription.sepa.batch.line", "mandate_id", string="Debits"
    )
    amendment_original_iban = fields.Char(
        string="Original Debtor IBAN",
        copy=False,
        readonly=True,
        help="The debtor's account changed since the last collection: the next "
        "file tells the bank (mandate amendment) and this is cleared once sent.",
    )
    amendment_other_bank = fields.Boolean(
        string="Moved to Another Bank",
        copy=False,
        readonly=True,
        help="The new debtor account is at another bank: the amendment says "
        "SMNDA instead of the original IBAN.",
    )

    # === DEFAULT METHODS === #

    @api.model
    def _default_name(self):
        return self.env["ir.sequence"].next_by_code("subscription.sepa.mandate") or _(
            "New"
        )

    # === COMPUTE METHODS === #

    @api.depends(
        "previous_debit_date",
        "batch_line_ids.state",
        "batch_line_ids.batch_id.collection_date",
    )
    def _compute_last_debit_date(self):
        """From the debits actually collected and not returned, never from a
        date set when Collected was clicked."""
        for mandate in self:
            collected = mandate.batch_line_ids.filtered(
                lambda line: line.state == "collected"
            ).batch_id.mapped("collection_date")
            dates = [d for d in [mandate.previous_debit_date, *collected] if d]
            mandate.last_debit_date = max(dates, default=False)

    def _inverse_last_debit_date(self):
        # A date typed or imported: a collection made before Odoo.
        for mandate in self:
            mandate.previous_debit_date = mandate.last_debit_date

    # === CONSTRAINT METHODS === #

    @api.constrains("name", "company_id")
    def _check_name(self):
        for mandate in self:
            if not sepa.is_valid_id(mandate.name):
                raise ValidationError(
                    _(
                        "Mandate reference %(mandate)s cannot be sent to the bank as "
                        "it is: use at most 35 characters among letters without "
                        "accents, digits and / - ? : ( ) . , ' +, without spaces, "
                        "not starting or ending with / nor containing //.",
                        mandate=mandate.name,
                    )
                )
            creditor = mandate.company_id.sepa_creditor_identifier
            if not creditor:
                continue
            same = self.sudo().search_count(
                [
                    ("id", "!=", mandate.id),
                    ("name", "=", mandate.name),
                    ("company_id.sepa_creditor_identifier", "=", creditor),
                ],
                limit=1,
            )
            if same:
                raise ValidationError(
                    _(
                        "Mandate reference %(mandate)s is already used with creditor "
                        "identifier %(creditor)s: change the reference of the new "
                        "mandate.",
                        mandate=mandate.name,
                        creditor=creditor,
                    )
                )

    @api.constrains("partner_bank_id")
    def _check_iban(self):
        for mandate in self:
            number = mandate.partner_bank_id.acc_number or ""
            if not stdnum_iban.is_valid(number):
                raise ValidationError(
                    _(
                        "Mandate %(mandate)s: %(number)s is not a valid IBAN. Check "
                        "the debtor's bank account number.",
                        mandate=mandate.name,
                        number=number,
                    )
                )

    @api.constrains("partner_bank_id", "company_id")
    def _check_bic(self):
        for mandate in self:
            needs_bic = mandate.company_id.sepa_pain_version == "pain.008.001.02"
            if needs_bic and not mandate.bic:
                raise ValidationError(
                    _(
                        "Mandate %(mandate)s: the debtor's bank has no BIC, which the "
                        "pain.008.001.02 format requires. Set the BIC on the bank "
                        "of the account, or use pain.008.001.08 in the settings.",
                        mandate=mandate.name,
                    )
                )

    # === CRUD METHODS === #

    def write(self, vals):
        if "name" in vals and any(m.state != "draft" for m in self):
            raise UserError(
                _(
                    "The reference of a signed mandate cannot change: the bank "
                    "knows it. Create a new mandate instead."
                )
            )
        if vals.get("partner_bank_id"):
            new_account = self.env["res.partner.bank"].browse(vals["partner_bank_id"])
            for mandate in self.filtered(
                lambda m: m.partner_bank_id and m.partner_bank_id != new_account
            ):
                mandate._note_account_change(
                    mandate.partner_bank_id.acc_number,
                    mandate.partner_bank_id.bank_bic,
                    new_account.bank_bic,
                )
        suspended = (
            self.filtered(
                lambda m: (
                    m.state == "suspended"
                    and m.partner_bank_id.id != vals["partner_bank_id"]
                )
            )
            if vals.get("partner_bank_id") and "state" not in vals
            else self.browse()
        )
        res = super().write(vals)
        if suspended:
            suspended._reactivate()
        return res

    @api.ondelete(at_uninstall=False)
    def _unlink_except_used(self):
        if any(mandate.state != "draft" for mandate in self):
            raise UserError(
                _("Only draft mandates can be deleted: revoke the others instead.")
            )

    # === ACTION METHODS === #

    def action_validate(self):
        for mandate in self:
            if mandate.state != "draft":
                raise UserError(
                    _(
                        "Mandate %(mandate)s is not a draft.",
                        mandate=mandate.name,
                    )
                )
            if not mandate.signature_date:
                raise UserError(
                    _(
                        "Mandate %(mandate)s cannot be activated before it is "
                        "signed: enter its signature date.",
                        mandate=mandate.name,
                    )
                )
        self.write({"state": "active"})
        return True

    def action_revoke(self):
        self.filtered(lambda m: m.state in ("draft", "active", "suspended"))._revoke(
            _("revoked by the debtor")
        )
        return True

    def action_print(self):
        return self.env.ref(
            "subscription_billing.action_report_sepa_mandate"
        ).report_action(self)

    # === BUSINESS METHODS === #

    def _revoke(self, reason):
        """Stop future collections, take the debits not sent to the bank yet
        out of their collections and warn the salespeople of the contracts."""
        self.write({"state": "revoked"})
        self._withdraw_unsent_debits(
            _("mandate %(reason)s", reason=reason),
        )
        for mandate in self:
            mandate.message_post(
                body=_("Mandate revoked: %(reason)s.", reason=reason),
                subtype_xmlid="mail.mt_note",
            )
            # Whoever revokes (the debtor's bank through an accountant) may not
            # see every contract: the salespeople are told all the same.
            for contract in mandate.sudo().contract_ids.filtered(
                lambda c: c.state in ("active", "suspended")
            ):
                contract.activity_schedule(
                    "mail.mail_activity_data_todo",
                    summary=_("SEPA mandate revoked"),
                    note=_(
                        "Mandate %(mandate)s was revoked (%(reason)s): no more "
                        "direct debit for this contract. Get a new mandate or "
                        "change the payment method.",
                        mandate=mandate.name,
                        reason=reason,
                    ),
                    user_id=(contract.user_id or self.env.user).id,
                )

    def _suspend(self, reason, lines):
        """The bank returned a debit because of the debtor's account (closed,
        wrong, blocked...): no debit until a new account is chosen on the
        mandate; one activity and one email to the customer asking for it."""
        self.ensure_one()
        if self.state not in ("active", "used"):
            self.message_post(
                body=_(
                    "Another debit returned (%(reason)s): the mandate stays %(state)s.",
                    reason=reason,
                    state=dict(self._fields["state"]._description_selection(self.env))[
                        self.state
                    ].lower(),
                ),
                subtype_xmlid="mail.mt_note",
            )
            return False
        self.write({"state": "suspended", "suspension_reason": reason})
        self._withdraw_unsent_debits(_("mandate suspended: %(reason)s", reason=reason))
        self.message_post(
            body=_(
                "Direct debits suspended: the bank returned a debit (%(reason)s). "
                "The customer was asked for another account; choose it on the "
                "mandate to collect again.",
                reason=reason,
            ),
            subtype_xmlid="mail.mt_note",
        )
        self._ask_customer("subscription_billing.mail_template_sepa_new_account")
        self._schedule_return_activity(
            _("Direct debit: new bank account needed"),
            _(
                "The bank returned the direct debit of %(invoices)s (%(reason)s): "
                "mandate %(mandate)s is suspended and the customer was emailed. "
                "Choose their new account on the mandate, or change the payment "
                "method.",
                invoices=", ".join(lines.move_id.mapped("name")),
                reason=reason,
                mandate=self.name,
            ),
        )
        return True

    def _revoke_after_return(self, reason, lines, effect):
        """The bank returned a debit because of the mandate itself (MD01...),
        or the debtor died (MD07): the mandate is revoked (the activities of
        the contracts say so); the customer is asked for a new mandate, except
        for a deceased debtor."""
        self.ensure_one()
        if self.state not in ("active", "used", "suspended"):
            return False
        self._revoke(reason)
        if effect == "mandate":
            self._ask_customer("subscription_billing.mail_template_sepa_new_mandate")
        else:
            self._schedule_return_activity(
                _("Direct debit: debtor deceased"),
                _(
                    "The bank returned the direct debit of %(invoices)s: the debtor "
                    "is deceased. Mandate %(mandate)s is revoked and no email was "
                    "sent. Contact the estate and close or transfer the contracts.",
                    invoices=", ".join(lines.move_id.mapped("name")),
                    mandate=self.name,
                ),
            )
        return True

    def _ask_customer(self, template_xmlid):
        """Queue the company's email asking the debtor for a new account or
        mandate (in their language), when they have an email address."""
        self.ensure_one()
        template = self.env.ref(template_xmlid, raise_if_not_found=False)
        if template and self.partner_id.email:
            template.send_mail(self.id, force_send=False)
        elif not self.partner_id.email:
            self.message_post(
                body=_(
                    "%(customer)s has no email address: ask them by phone or post.",
                    customer=self.partner_id.display_name,
                ),
                subtype_xmlid="mail.mt_note",
            )

    def _schedule_return_activity(self, summary, note):
        """One activity on the mandate for the salesperson of its contract
        (the importer may not see it: sudo to read it)."""
        self.ensure_one()
        contract = (
            self.sudo().contract_ids.filtered(
                lambda c: c.state in ("active", "suspended")
            )[:1]
            or self.sudo().contract_ids[:1]
        )
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=note,
            user_id=(contract.user_id or self.env.user).id,
        )

    def _reactivate(self):
        """A new account was chosen on a suspended mandate: debits resume (the
        next file carries the amendment when the mandate was collected)."""
        self.write({"state": "active", "suspension_reason": False})
        self.activity_feedback(
            ["mail.mail_activity_data_todo"],
            feedback=_("New account chosen: direct debits resume."),
        )
        for mandate in self:
            mandate.message_post(
                body=_(
                    "New debtor account %(iban)s: the mandate is active again.",
                    iban=mandate.iban,
                ),
                subtype_xmlid="mail.mt_note",
            )

    def _withdraw_unsent_debits(self, reason):
        """The debits of these mandates in collections not sent to the bank are
        removed: their invoices go back to the payment reminders."""
        # A salesperson may revoke a mandate, not edit collections: the
        # withdrawal follows from the revocation, hence sudo.
        lines = (
            self.env["subscription.sepa.batch.line"]
            .sudo()
            .search(
                [
                    ("mandate_id", "in", self.ids),
                    ("state", "=", "to_collect"),
                    ("batch_id.state", "in", ("draft", "generated")),
                ]
            )
        )
        lines._withdraw(reason)
        return lines

    def _note_account_change(self, original_iban, original_bic, new_bic):
        """The debtor's account of a collected mandate changes: the next file
        carries the amendment. The oldest original account is kept until the
        amendment is sent."""
        for mandate in self:
            if mandate.amendment_original_iban or mandate._is_first_collection():
                continue
            other_bank = bool(original_bic and new_bic and original_bic != new_bic)
            mandate.write(
                {
                    "amendment_original_iban": original_iban,
                    "amendment_other_bank": other_bank,
                }
            )
            mandate.message_post(
                body=_(
                    "Debtor account changed (was %(iban)s): the next direct debit "
                    "file tells the bank (mandate amendment).",
                    iban=original_iban,
                ),
                subtype_xmlid="mail.mt_note",
            )

    def _is_first_collection(self):
        """No collection was ever made, nor is under way, on this mandate."""
        self.ensure_one()
        if self.last_debit_date:
            return False
        return not self.env["subscription.sepa.batch.line"].search_count(
            [("mandate_id", "=", self.id), ("state", "!=", "rejected")], limit=1
        )

    @api.model
    def _cron_expire_mandates(self, batch_size=1000):
        """Mandates unused for 36 months expire (SEPA rulebook)."""
        today = self.env.company._subscription_today()
        limit = today - relativedelta(months=MANDATE_VALIDITY_MONTHS)
        in_collection = (
            self.env["subscription.sepa.batch.line"]
            ._search([("state", "=", "to_collect")])
            .subselect("mandate_id")
        )
        domain = [
            ("state", "=", "active"),
            # A mandate with a debit under way is in use, not unused.
            ("id", "not in", in_collection),
            "|",
            ("last_debit_date", "<", limit),
            "&",
            ("last_debit_date", "=", False),
            ("signature_date", "<", limit),
        ]
        mandates = self.search(domain, limit=batch_size)
        mandates.write({"state": "expired"})
        mandates._message_log_batch(
            bodies=dict.fromkeys(mandates.ids, _("Expired: unused for 36 months."))
        )
        remaining = self.search_count(domain) if len(mandates) == batch_size else 0
        self.env["ir.cron"]._notify_progress(done=len(mandates), remaining=remaining)
        return mandates

    def _get_portal_qr_code(self):
        """QR code to the first contract of the mandate in the customer portal."""
        self.ensure_one()
        contract = self.contract_ids[:1]
        if contract:
            return contract._get_portal_qr_code()
        return qr_code_data_uri(self.get_base_url() + "/my/subscriptions")
