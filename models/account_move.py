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
    sepa_mandate_id = fields.Many2one(
        "subscription.sepa.mandate",
        string="SEPA Mandate",
        copy=False,
        index="btree_not_null",
        check_company=True,
        help="Collected by direct debit on this mandate.",
    )
    sepa_rejected = fields.Boolean(
        string="Direct Debit Rejected",
        copy=False,
        readonly=True,
        help="The bank returned the direct debit: the invoice follows the reminders.",
    )
    card_failed_attempts = fields.Integer(copy=False, readonly=True)
    card_next_try_date = fields.Date(
        string="Next Card Charge",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="When the saved card of the subscription is charged (again).",
    )
    payment_collection_pending = fields.Boolean(
        copy=False,
        readonly=True,
        help="The amount is being collected (direct debit, card) and was not "
        "rejected yet: no payment reminder meanwhile.",
    )

    # === COMPUTE METHODS === #

    def _compute_display_qr_code(self):
        res = super()._compute_display_qr_code()
        for move in self:
            # Transfer subscriptions always carry the SEPA QR code.
            if move.subscription_contract_id and move.qr_code_method == "sct_qr":
                move.display_qr_code = move.move_type == "out_invoice"
        return res

    # === CRUD METHODS === #

    def init(self):
        res = super().init()
        # Exactly once: see account_move_billing.py (no day billed twice).
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
        subscription = posted.filtered("subscription_contract_id")
        # Posted subscription invoices are sent by the billing cron (or at once by
        # "Invoice now"), also those an accountant posts after review.
        subscription.filtered(lambda m: not m.is_move_sent).subscription_to_send = True
        invoices = subscription.filtered(lambda m: m.move_type == "out_invoice")
        transfer = invoices.filtered(
            lambda m: m.subscription_contract_id.payment_method == "transfer"
        )
        # The EPC "SEPA credit transfer" QR code, from account_qr_code_sepa, where
        # it can be made (euros, an IBAN to pay to): one write for the batch.
        transfer.filtered(
            lambda m: (
                m.partner_bank_id
                and not m.partner_bank_id._get_error_messages_for_qr(
                    "sct_qr", m.partner_id, m.currency_id
                )
            )
        ).write({"qr_code_method": "sct_qr"})
        for move in invoices - transfer:
            if move.subscription_contract_id.payment_method == "card":
                move.write(
                    {
                        "payment_collection_pending": True,
                        "card_next_try_date": move.invoice_date,
                        "card_failed_attempts": 0,
                    }
                )
        return posted

    # === BUSINESS METHODS === #

    def _get_invoice_computed_reference(self):
        """Transfer subscriptions whose plan asks for it get the structured
        European creditor reference (RF), whatever the journal's standard."""
        contract = self.subscription_contract_id
        if (
            contract.payment_method == "transfer"
            and contract.plan_id.payment_reference_model == "euro"
            and self.journal_id.invoice_reference_type != "none"
        ):
            return self._get_invoice_reference_euro_invoice()
        return super()._get_invoice_computed_reference()

    def _check_period_free(self):
        """A cancelled subscription invoice cannot come back while any of its days
        was billed again by another invoice."""
        for move in self:
            other = self.search(
                [
                    ("id", "!=", move.id),
                    ("subscription_contract_id", "=", move.subscription_contract_id.id),
                    ("subscription_period_start", "<=", move.subscription_period_end),
                    ("subscription_period_end", ">=", move.subscription_period_start),
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
