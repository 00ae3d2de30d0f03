from stdnum import iban as stdnum_iban

from odoo import _, fields, models
from odoo.exceptions import UserError

from ..lib import sepa


class SubscriptionSepaBatch(models.Model):
    """Generating the pain.008 direct debit file of a collection."""

    _inherit = "subscription.sepa.batch"

    # === ACTION METHODS === #

    def action_generate(self):
        """Re-check every debit, move a collection date the bank can no longer
        honour, then build the pain.008 file, validate it against the schema
        and attach it."""
        for batch in self:
            if batch.state not in ("draft", "generated"):
                raise UserError(
                    _("Collection %(batch)s was already sent.", batch=batch.name)
                )
            if not batch.line_ids.filtered(lambda line: line.state == "to_collect"):
                raise UserError(
                    _("Collection %(batch)s has nothing to collect.", batch=batch.name)
                )
            batch._check_lines()
            lines = batch.line_ids.filtered(lambda line: line.state == "to_collect")
            if not lines:
                # Nothing left after the checks: the removals and their messages
                # stay (no error, which would roll them back).
                batch.file_id.unlink()
                batch.state = "draft"
                batch.message_post(
                    body=_(
                        "No file generated: no debit is left to collect after the "
                        "checks. Cancel this collection."
                    ),
                    subtype_xmlid="mail.mt_note",
                )
                continue
            batch._check_collection_date()
            xml = batch._build_file(lines)
            batch.file_id.unlink()
            attachment = self.env["ir.attachment"].create(
                {
                    "name": f"{sepa.sanitize_id(batch.name, 60)}.xml",
                    "raw": xml,
                    "mimetype": "application/xml",
                    "res_model": batch._name,
                    "res_id": batch.id,
                }
            )
            batch.write({"file_id": attachment.id, "state": "generated"})
            batch.message_post(
                body=_(
                    "%(version)s file generated and validated against the "
                    "official schema: %(count)s debits, %(amount)s.",
                    version=batch.pain_version,
                    count=len(lines),
                    amount=batch.currency_id.format(batch.amount_total),
                ),
                attachment_ids=attachment.ids,
            )
        return True

    # === BUSINESS METHODS === #

    def _get_creditor_values(self):
        self.ensure_one()
        company = self.company_id
        bank = self.journal_id.bank_account_id
        if bank and not stdnum_iban.is_valid(bank.acc_number or ""):
            raise UserError(
                _(
                    "The bank account of journal %(journal)s (%(number)s) is not a "
                    "valid IBAN: correct it before generating a collection.",
                    journal=self.journal_id.name,
                    number=bank.acc_number,
                )
            )
        if not bank or not company.sepa_creditor_identifier:
            raise UserError(
                _(
                    "Set the SEPA creditor identifier of %(company)s and the bank "
                    "account of journal %(journal)s before generating a collection.",
                    company=company.name,
                    journal=self.journal_id.name,
                )
            )
        return {
            "name": company.name,
            "iban": bank.acc_number,
            "bic": bank.bank_bic,
            "creditor_id": company.sepa_creditor_identifier,
            "scheme": self.scheme,
        }

    def _build_file(self, lines):
        self.ensure_one()
        self.message_identifier = sepa.sanitize_id(
            f"{self.name}/{fields.Datetime.now():%Y%m%d%H%M%S}"
        )
        payments = [
            {
                "name": line.partner_id.commercial_partner_id.name,
                "iban": line.mandate_id.iban,
                "bic": line.mandate_id.bic,
                "amount": line.amount,
                "sequence_type": line.sequence_type,
                "collection_date": self.collection_date,
                "mandate_id": line.mandate_id.name,
                "mandate_date": line.mandate_id.signature_date,
                "description": _(
                    "Invoice %(invoice)s",
                    invoice=line.move_id.name,
                ),
                "endtoend_id": line.end_to_end_id,
                "original_iban": line.mandate_id.amendment_original_iban,
                "original_other_bank": line.mandate_id.amendment_other_bank,
            }
            for line in lines
        ]
        try:
            return sepa.build_pain008(
                self._get_creditor_values(),
                payments,
                self.pain_version,
                message_id=self.message_identifier,
            )
        except ValueError as error:
            raise UserError(
                _(
                    "The direct debit file of %(batch)s is not valid: %(error)s. "
                    "Check the IBAN and BIC of the mandates and of the bank journal.",
                    batch=self.name,
                    error=str(error),
                )
            ) from error
