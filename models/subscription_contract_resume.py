from odoo import _, api, models
from odoo.tools import format_date


class SubscriptionContract(models.Model):
    _inherit = "subscription.contract"

    # === BUSINESS METHODS === #

    @api.model
    def _get_suspended_unpaid_domain(self, partners=None):
        domain = [("state", "=", "suspended"), ("suspended_non_payment", "=", True)]
        if partners is not None:
            domain.append(("commercial_partner_id", "in", partners.ids))
        return domain

    @api.model
    def _resume_paid_customers(self, partners=None, payment_days=None):
        """Contracts suspended for non-payment whose customer has nothing past
        due any more resume, from a few queries whatever their number.
        ``partners``: only those customers (commercial entities); all by default.
        ``payment_days``: {customer id: day of the payment} (default: today).
        A contract a person suspended by hand stays suspended."""
        contracts = self.sudo().search(self._get_suspended_unpaid_domain(partners))
        if not contracts:
            return contracts
        moves = self.env["account.move"].sudo()
        late = set()
        for company, company_contracts in contracts.grouped("company_id").items():
            late.update(
                (partner.id, company.id)
                for [partner] in moves._read_group(
                    [
                        *moves._get_open_invoice_domain(),
                        ("company_id", "=", company.id),
                        (
                            "commercial_partner_id",
                            "in",
                            company_contracts.commercial_partner_id.ids,
                        ),
                        ("invoice_date_due", "<", company._subscription_today()),
                    ],
                    ["commercial_partner_id"],
                )
            )
        paid = contracts.filtered(
            lambda c: (c.commercial_partner_id.id, c.company_id.id) not in late
        )
        for contract in paid:
            contract._resume_after_payment(
                (payment_days or {}).get(contract.commercial_partner_id.id)
            )
        return paid

    def _resume_after_payment(self, day=None):
        """The customer paid on ``day`` (default and at the latest: today in
        its company): resume from that day, the suspended days stay unbilled;
        log it and tell the salesperson."""
        resume_days = {}
        for contract in self:
            today = contract._get_today()
            resume_days[contract] = min(day, today) if day else today
            contract.pause_ids.filtered(lambda p: not p.date_to)._end(
                resume_days[contract]
            )
        self.write({"state": "active", "suspended_non_payment": False})
        for contract, resume_day in resume_days.items():
            contract.message_post(
                body=_(
                    "Resumed on %(date)s: %(customer)s paid what was overdue. "
                    "Billing resumes from that day; the suspended days are not "
                    "billed.",
                    date=format_date(contract.env, resume_day),
                    customer=contract.commercial_partner_id.display_name,
                ),
                subtype_xmlid="mail.mt_note",
                partner_ids=contract.user_id.partner_id.ids,
            )

    def _suspend_for_non_payment(self, day):
        """Suspended by the last step of a payment reminder policy."""
        self.env["subscription.contract.pause"].create(
            [{"contract_id": contract.id, "date_from": day} for contract in self]
        )
        self.write({"state": "suspended", "suspended_non_payment": True})
        for contract in self:
            body = _("Suspended for non-payment by the payment reminders.")
            partners = self.env["res.partner"]
            renews = contract.auto_renew and not contract.renewal_refused
            if contract.date_end and renews:
                # The salesperson is alerted: no tacit renewal while unpaid.
                body += " " + _(
                    "It does not renew tacitly while suspended: it resumes and "
                    "renews when the customer pays, else it expires on %(date)s.",
                    date=format_date(contract.env, contract.date_end),
                )
                partners = contract.user_id.partner_id
            contract.message_post(
                body=body, subtype_xmlid="mail.mt_note", partner_ids=partners.ids
            )
