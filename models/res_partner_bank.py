from stdnum import iban as stdnum_iban

from odoo import _, api, models
from odoo.exceptions import ValidationError


class ResPartnerBank(models.Model):
    _inherit = "res.partner.bank"

    # === CONSTRAINT METHODS === #

    @api.constrains("acc_number")
    def _check_sepa_iban(self):
        """An account a mandate debits, or direct debits are collected on, is a
        valid IBAN whenever its number is edited."""
        mandates = self.env["subscription.sepa.mandate"].sudo()
        journals = self.env["account.journal"].sudo()
        for account in self:
            if stdnum_iban.is_valid(account.acc_number or ""):
                continue
            used = mandates.search_count(
                [
                    ("partner_bank_id", "=", account.id),
                    ("state", "in", ("draft", "active")),
                ],
                limit=1,
            )
            creditor = (
                self.env["res.company"]
                .sudo()
                .search_count(
                    [
                        (
                            "sepa_journal_id",
                            "in",
                            journals._search([("bank_account_id", "=", account.id)]),
                        )
                    ],
                    limit=1,
                )
            )
            if used or creditor:
                raise ValidationError(
                    _(
                        "%(number)s is not a valid IBAN, and %(account)s is used for "
                        "SEPA direct debits: check the account number.",
                        number=account.acc_number,
                        account=account.display_name,
                    )
                )

    # === CRUD METHODS === #

    def write(self, vals):
        if "acc_number" not in vals:
            return super().write(vals)
        # Whoever may edit the account: the mandates follow (hence sudo).
        mandates = (
            self.env["subscription.sepa.mandate"]
            .sudo()
            .search([("partner_bank_id", "in", self.ids), ("state", "=", "active")])
        )
        before = {
            mandate: (mandate.partner_bank_id.acc_number, mandate.bic)
            for mandate in mandates
        }
        result = super().write(vals)
        for mandate, (number, bic) in before.items():
            if stdnum_iban.compact(number or "") != stdnum_iban.compact(
                mandate.partner_bank_id.acc_number or ""
            ):
                mandate._note_account_change(number, bic, mandate.bic)
        return result
