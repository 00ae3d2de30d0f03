from odoo import _, fields, models

from .qr_code import qr_code_data_uri


class SubscriptionContract(models.Model):
    _inherit = "subscription.contract"
    # Customers who may read the contract may write in its chatter, as on
    # Odoo's invoices and sale orders.
    _mail_post_access = "read"

    # === COMPUTE METHODS === #

    def _compute_access_url(self):
        res = super()._compute_access_url()
        for contract in self:
            contract.access_url = f"/my/subscriptions/{contract.id}"
        return res

    # === PORTAL AND REPORT HELPERS === #

    def _get_portal_qr_code(self):
        """PNG data URI of a QR code to this contract in the customer portal."""
        self.ensure_one()
        return qr_code_data_uri(self.get_base_url() + self.get_portal_url())

    def _get_report_base_filename(self):
        """Name of the contract PDF downloaded from the portal."""
        self.ensure_one()
        return _("Subscription %(name)s", name=self.name)

    def _get_portal_tax_totals(self):
        """Tax summary of one period, in the format of
        account.document_tax_totals (untaxed amount, each tax, total)."""
        self.ensure_one()
        tax_model = self.env["account.tax"]
        currency = self.currency_id or self.company_id.currency_id
        base_lines = [
            tax_model._prepare_base_line_for_taxes_computation(
                line,
                tax_ids=line.tax_ids,
                quantity=line.quantity,
                partner_id=self.partner_id,
                currency_id=currency,
            )
            for line in self.line_ids
        ]
        tax_model._add_tax_details_in_base_lines(base_lines, self.company_id)
        tax_model._round_base_lines_tax_details(base_lines, self.company_id)
        return tax_model._get_tax_totals_summary(
            base_lines=base_lines, currency=currency, company=self.company_id
        )

    def _get_portal_price_include(self):
        """True when the unit prices of the lines include their taxes."""
        self.ensure_one()
        taxes = self.line_ids.tax_ids
        return bool(taxes) and all(tax.price_include for tax in taxes)

    def _get_portal_suspension_date(self):
        """First day of the running suspension, if any."""
        self.ensure_one()
        pauses = self.pause_ids.filtered(lambda p: not p.date_to)
        return pauses and max(pauses.mapped("date_from")) or False

    def _get_portal_bank_account(self):
        """Bank account of the company that transfer payers pay to."""
        self.ensure_one()
        invoices = self.invoice_ids.filtered(
            lambda m: m.state == "posted" and m.partner_bank_id
        ).sorted("invoice_date", reverse=True)
        if invoices:
            return invoices[0].partner_bank_id
        banks = self.company_id.partner_id.bank_ids
        return banks.sorted(lambda bank: bank.acc_type != "iban")[:1]

    def _get_portal_transfer_qr_codes(self):
        """[(invoice, data URI)] of the EPC "SEPA credit transfer" QR code of
        each open invoice of a transfer payer, when the bank account allows it."""
        self.ensure_one()
        if self.payment_method != "transfer":
            return []
        result = []
        invoices = self.invoice_ids.filtered(
            lambda m: (
                m.state == "posted"
                and m.move_type == "out_invoice"
                and m.payment_state in ("not_paid", "partial")
            )
        ).sorted("invoice_date_due")
        for invoice in invoices[:3]:
            bank = invoice.partner_bank_id or self._get_portal_bank_account()
            if not bank:
                continue
            qr = bank.build_qr_code_base64(
                invoice.amount_residual,
                invoice.ref or invoice.name,
                invoice.payment_reference,
                invoice.currency_id,
                invoice.partner_id,
                qr_method="sct_qr",
                silent_errors=True,
            )
            if qr:
                result.append((invoice, qr))
        return result

    def _get_portal_overdue_invoices(self):
        """Posted invoices of the contract that are past their due date."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        return self.invoice_ids.filtered(
            lambda m: (
                m.state == "posted"
                and m.move_type == "out_invoice"
                and m.payment_state in ("not_paid", "partial")
                and m.invoice_date_due
                and m.invoice_date_due < today
            )
        )
