from odoo import _, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_date

from .subscription_contract import RUNNING_STATES


class SubscriptionContract(models.Model):
    """Customers choose how they pay on the portal: one of their saved cards,
    bank transfer, or a new SEPA direct debit mandate signed online. The
    choice applies from the next invoice."""

    _inherit = "subscription.contract"

    def _get_portal_cards(self):
        self.ensure_one()
        today = self._get_today()
        return (
            self.env["payment.token"]
            .sudo()
            .search([("partner_id", "child_of", self.commercial_partner_id.id)])
            .filtered(lambda token: not token._is_card_expired(today))
        )

    def _can_portal_change_payment(self):
        self.ensure_one()
        return self.state in RUNNING_STATES and not self.termination_date

    def _portal_pay_by_card(self, token, origin=None):
        self.ensure_one()
        if (
            not self._can_portal_change_payment()
            or token not in self._get_portal_cards()
        ):
            raise UserError(_("This card cannot pay this subscription."))
        self.sudo().write({"payment_method": "card", "payment_token_id": token.id})
        self._log_payment_change(
            _("by the card %(card)s", card=token.display_name), origin
        )

    def _portal_pay_by_transfer(self, origin=None):
        self.ensure_one()
        if not self._can_portal_change_payment():
            raise UserError(_("How this subscription is paid cannot change online."))
        self.sudo().write({"payment_method": "transfer"})
        self._log_payment_change(_("by bank transfer"), origin)

    def _portal_sign_mandate(self, iban, holder, bic=None, ip=None, origin=None):
        """A SEPA mandate signed online: the customer's account, the mandate
        (reference, date, and the IP address of the acceptance in its chatter),
        active at once, its PDF emailed; the contract is debited from the next
        invoice."""
        self.ensure_one()
        if not self._can_portal_change_payment():
            raise UserError(_("How this subscription is paid cannot change online."))
        partner = self.commercial_partner_id
        number = "".join((iban or "").split()).upper()
        bank_model = self.env["res.partner.bank"].sudo()
        account = bank_model.search(
            [("partner_id", "=", partner.id), ("sanitized_acc_number", "=", number)],
            limit=1,
        )
        today = self._get_today()
        try:
            with self.env.cr.savepoint():
                if not account:
                    vals = {
                        "partner_id": partner.id,
                        "acc_number": number,
                        "acc_holder_name": holder or partner.name,
                    }
                    if bic:
                        vals["bank_id"] = self._get_portal_bank(bic).id
                    account = bank_model.create(vals)
                mandate = (
                    self.env["subscription.sepa.mandate"]
                    .sudo()
                    .create(
                        {
                            "company_id": self.company_id.id,
                            "partner_id": partner.id,
                            "partner_bank_id": account.id,
                            "signature_date": today,
                            "signature_place": _("Online"),
                            "scheme": "CORE",
                        }
                    )
                )
                mandate.action_validate()
        except ValidationError as error:
            raise UserError(error.args[0]) from error
        mandate.message_post(
            body=_(
                "Signed online by %(holder)s on %(date)s from %(ip)s: the customer "
                "accepted the mandate text with the reference %(reference)s.",
                holder=holder or partner.name,
                date=format_date(self.env, today),
                ip=ip or "?",
                reference=mandate.name,
            ),
            subtype_xmlid="mail.mt_note",
        )
        self.sudo().write(
            {"payment_method": "sepa_direct_debit", "mandate_id": mandate.id}
        )
        self._log_payment_change(
            _("by SEPA direct debit (mandate %(mandate)s)", mandate=mandate.name),
            origin,
        )
        self._send_mandate_pdf(mandate)
        return mandate

    def _get_portal_bank(self, bic):
        bic = bic.strip().upper()
        bank = self.env["res.bank"].sudo().search([("bic", "=", bic)], limit=1)
        return bank or self.env["res.bank"].sudo().create({"name": bic, "bic": bic})

    def _send_mandate_pdf(self, mandate):
        """Email the customer the signed mandate as a PDF (durable medium)."""
        self.ensure_one()
        if not self.partner_id.email:
            return
        report = self.env.ref("subscription_billing.action_report_sepa_mandate").sudo()
        content, __ = report._render_qweb_pdf(report.report_name, mandate.ids)
        lang = self.partner_id.lang or self.env.lang
        local = self.with_context(lang=lang)
        local.sudo().message_post(
            body=local.env._(
                "Your SEPA direct debit mandate %(mandate)s is signed: it pays "
                "subscription %(contract)s from its next invoice. Please find it "
                "attached.",
                mandate=mandate.name,
                contract=self.name,
            ),
            subject=local.env._(
                "Your SEPA direct debit mandate %(mandate)s", mandate=mandate.name
            ),
            partner_ids=self.partner_id.ids,
            attachments=[(f"{mandate.name.replace('/', '-')}.pdf", content)],
            subtype_xmlid="mail.mt_comment",
            email_layout_xmlid="subscription_billing.mail_notification_customer",
        )

    def _log_payment_change(self, how, origin=None):
        body = _("The customer chose to pay %(how)s, from the next invoice.", how=how)
        if origin:
            body += " " + origin
        self.message_post(body=body, subtype_xmlid="mail.mt_note")
