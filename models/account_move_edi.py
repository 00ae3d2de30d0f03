from odoo import _, models

# The fixed compensation for recovery costs of French Commercial Code L441-10
# (D441-5), owed by a business customer paying late.
RECOVERY_INDEMNITY_EUR = 40


class AccountMove(models.Model):
    _inherit = "account.move"

    def _prepare_edi_vals_to_export(self):
        """The billed period of a subscription invoice goes into its e-invoice:
        the Factur-X (CII) exporter of account_edi_ubl_cii prints
        ``billing_start``/``billing_end`` as BillingSpecifiedPeriod (BG-14).
        An amendment document has no period of its own: its lines' days.
        This hook of ``account`` needs no dependency on account_edi_ubl_cii."""
        values = super()._prepare_edi_vals_to_export()
        start, end = self._subscription_billed_period()
        if start and end:
            values["billing_start"] = start
            values["billing_end"] = end
        return values

    def _generate_qr_code(self, silent_errors=False):
        if not self.env.context.get("subscription_rendering_ahead"):
            return super()._generate_qr_code(silent_errors=silent_errors)
        # Rendering ahead (another cursor, on invoices the sending transaction
        # holds locked): Odoo writes back the QR method it used (the SEPA
        # transfer QR code of French invoices in euros), which would wait for
        # the sending's lock while the sending waits for this PDF. The method
        # set on posting is kept in cache only: no write.
        with self.env.protecting([self._fields["qr_code_method"]], self):
            return super()._generate_qr_code(silent_errors=silent_errors)

    def _subscription_billed_period(self):
        """(first, last) day billed by this invoice, or (False, False)."""
        self.ensure_one()
        if self.subscription_period_start and self.subscription_period_end:
            return self.subscription_period_start, self.subscription_period_end
        lines = self.invoice_line_ids.filtered(
            lambda line: line.subscription_date_from and line.subscription_date_to
        )
        if not lines:
            return False, False
        return (
            min(lines.mapped("subscription_date_from")),
            max(lines.mapped("subscription_date_to")),
        )

    def _subscription_corrected_invoice(self):
        """The invoice a credit note corrects (BT-25): its reversed invoice,
        else, for an amendment credit note, the last posted invoice that
        billed the days it credits."""
        self.ensure_one()
        if self.reversed_entry_id:
            return self.reversed_entry_id
        lines = self.invoice_line_ids.filtered("subscription_line_id")
        if not lines:
            return self.browse()
        candidates = self.env["account.move.line"].search(
            [
                ("move_id", "!=", self.id),
                ("move_id.move_type", "=", "out_invoice"),
                ("move_id.state", "=", "posted"),
                ("subscription_line_id", "in", lines.subscription_line_id.ids),
                (
                    "subscription_date_from",
                    "<=",
                    max(lines.mapped("subscription_date_to")),
                ),
                (
                    "subscription_date_to",
                    ">=",
                    min(lines.mapped("subscription_date_from")),
                ),
            ]
        )
        return candidates.move_id.sorted(lambda m: (m.invoice_date, m.id))[-1:]

    def _subscription_mail_template(self):
        """The plan's template; for a credit note, the credit note template
        unless the plan names its own."""
        self.ensure_one()
        template = self.subscription_contract_id.plan_id.invoice_mail_template_id
        if self.move_type != "out_refund":
            return template
        default = self.env.ref(
            "subscription_billing.mail_template_subscription_invoice",
            raise_if_not_found=False,
        )
        if template and template != default:
            return template
        return (
            self.env.ref(
                "subscription_billing.mail_template_subscription_credit_note",
                raise_if_not_found=False,
            )
            or template
        )

    def _subscription_is_b2b(self):
        self.ensure_one()
        return self.commercial_partner_id._subscription_einvoice_category() != "B2C"

    def _subscription_penalty_text(self):
        self.ensure_one()
        points = self.company_id.subscription_penalty_points
        text = f"{points:g}"
        if (self.env.context.get("lang") or self.env.lang or "").startswith("fr"):
            text = text.replace(".", ",")
        return _(
            "Late-payment penalties: the ECB refinancing rate plus %(points)s "
            "points, due from the day after the due date.",
            points=text,
        )

    def _subscription_legal_notes(self):
        """The mentions of French law a business invoice carries (Commercial
        Code L441-9, L441-10), by subject code of the e-invoice notes (BR-FR-05):
        PMT recovery indemnity, PMD late-payment penalties, AAB early-payment
        discount; BAR how the reform treats the invoice."""
        self.ensure_one()
        company = self.company_id
        if self._subscription_is_b2b():
            recovery = _(
                "Fixed compensation for recovery costs in case of late "
                "payment: EUR %(amount)s.",
                amount=RECOVERY_INDEMNITY_EUR,
            )
            penalty = self._subscription_penalty_text()
        else:
            recovery = _(
                "No fixed compensation for recovery costs: the customer is a consumer."
            )
            penalty = _("Late-payment interest: the legal interest rate.")
        return {
            "PMT": recovery,
            "PMD": penalty,
            "AAB": company.subscription_early_discount
            or _("No discount for early payment."),
            "BAR": self.commercial_partner_id._subscription_einvoice_category(),
        }
