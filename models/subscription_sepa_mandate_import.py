from stdnum import iban as stdnum_iban

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..lib import sepa
from .ir_fields_converter import prefetch_names
from .subscription_contract_import import (
    close_import,
    drop_empty_cells,
    failing_field,
    load_valid_records,
    unique_messages,
)


class SubscriptionSepaMandate(models.Model):
    """Moving in: mandates signed with the previous tool, imported with their
    debtor account and whether they were already collected (the next debit is
    then a recurrent one, RCUR, never a first one again)."""

    _inherit = "subscription.sepa.mandate"

    debtor_iban = fields.Char(
        string="Debtor IBAN",
        compute="_compute_debtor_account",
        inverse="_inverse_debtor_account",
        help="On import: the debtor's account, found among the customer's bank "
        "accounts or added to them.",
    )
    debtor_bic = fields.Char(
        string="Debtor BIC",
        compute="_compute_debtor_account",
        inverse="_inverse_debtor_account",
    )
    already_used = fields.Boolean(
        compute="_compute_already_used",
        inverse="_inverse_already_used",
        help="The previous tool already collected on this mandate: the next debit "
        "is a recurrent one (RCUR). Give the date of its last collection.",
    )
    previous_collection_date = fields.Date(
        string="Last Collection (Previous Tool)",
        compute="_compute_already_used",
        inverse="_inverse_already_used",
    )

    # === COMPUTE METHODS === #

    @api.depends("partner_bank_id")
    def _compute_debtor_account(self):
        for mandate in self:
            mandate.debtor_iban = mandate.partner_bank_id.acc_number
            mandate.debtor_bic = mandate.partner_bank_id.bank_bic

    def _inverse_debtor_account(self):
        for mandate in self:
            if mandate.debtor_iban:
                mandate.partner_bank_id = self._import_bank_accounts(
                    [(mandate.partner_id, mandate.debtor_iban, mandate.debtor_bic)]
                )[0]

    @api.depends("last_debit_date")
    def _compute_already_used(self):
        for mandate in self:
            mandate.already_used = bool(mandate.last_debit_date)
            mandate.previous_collection_date = mandate.last_debit_date

    def _inverse_already_used(self):
        for mandate in self:
            if mandate.previous_collection_date:
                mandate.last_debit_date = mandate.previous_collection_date

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        # Set-based: the debtors' accounts of every mandate are found (one
        # search) or created (one create) for the whole batch.
        pending = []
        vals_list = [dict(vals) for vals in vals_list]
        for vals in vals_list:
            iban = vals.pop("debtor_iban", None)
            bic = vals.pop("debtor_bic", None)
            vals.pop("already_used", None)
            previous = vals.pop("previous_collection_date", None)
            if previous and not vals.get("last_debit_date"):
                vals["last_debit_date"] = previous
            if iban and not vals.get("partner_bank_id") and vals.get("partner_id"):
                pending.append((vals, iban, bic))
        if pending:
            partners = self.env["res.partner"].browse(
                [vals["partner_id"] for vals, __, __ in pending]
            )
            accounts = self._import_bank_accounts(
                [
                    (partner, iban, bic)
                    for partner, (__, iban, bic) in zip(partners, pending, strict=True)
                ]
            )
            for (vals, __, __), account in zip(pending, accounts, strict=True):
                vals["partner_bank_id"] = account.id
        return super().create(vals_list)

    @api.model
    def get_import_templates(self):
        suffix = "fr" if (self.env.lang or "")[:2] == "fr" else "en"
        return [
            {
                "label": _("Import Template for SEPA Mandates (Excel)"),
                "template": f"/subscription_billing/static/xls/"
                f"subscription_mandates_{suffix}.xlsx",
            },
            {
                "label": _("Import Template for SEPA Mandates (CSV)"),
                "template": f"/subscription_billing/static/xls/"
                f"subscription_mandates_{suffix}.csv",
            },
        ]

    @api.model
    def load(self, fields, data):
        """Odoo's import: every row checked, errors by row and column, and the
        file imported whole or not at all."""
        collector = []
        savepoint = self.env.cr.savepoint(flush=False)
        result = super(
            SubscriptionSepaMandate,
            self.with_context(
                subscription_import_messages=collector,
                subscription_import_names=prefetch_names(self, fields, data),
            ),
        ).load(fields, data)
        result["messages"].extend(unique_messages(collector))
        return close_import(self, savepoint, result)

    @api.model
    def _load_records(self, data_list, update=False, ignore_duplicates=False):
        collector = self.env.context.get("subscription_import_messages")
        if collector is None:
            return super()._load_records(data_list, update, ignore_duplicates)
        # One query for the references of the whole batch already in use.
        company = self.env.company
        creditor = company.sepa_creditor_identifier
        names = [data["values"].get("name") for data in data_list]
        domain = [("name", "in", [n for n in names if n])]
        domain += (
            [("company_id.sepa_creditor_identifier", "=", creditor)]
            if creditor
            else [("company_id", "=", company.id)]
        )
        taken = set(self.sudo().search(domain).mapped("name"))
        valid = []
        for data in data_list:
            drop_empty_cells(self, data["values"])
            field, message = self._import_check_values(data["values"], taken)
            if message:
                collector.append(
                    dict(data["info"], type="error", field=field, message=message)
                )
            else:
                taken.add(data["values"].get("name"))
                valid.append(data)
        if not valid:
            return self.browse()
        return load_valid_records(
            super()._load_records, valid, update, ignore_duplicates, collector
        )

    def _validate_fields(self, field_names, excluded_names=()):
        try:
            return super()._validate_fields(field_names, excluded_names)
        except ValidationError as error:
            if self.env.context.get("subscription_import_messages") is not None:
                error.subscription_import_field = failing_field(
                    self,
                    {
                        "_check_iban": "debtor_iban",
                        "_check_bic": "debtor_bic",
                        "_check_name": "name",
                    },
                )
            raise

    # === BUSINESS METHODS === #

    @api.model
    def _import_check_values(self, values, taken):
        """(column, message) of what is wrong in an imported mandate row, or
        (None, None). ``taken``: references already used with the creditor."""
        if not values.get("partner_id") and not values.get("id"):
            return "partner_id", _("Give the debtor of the mandate.")
        name = values.get("name") or ""
        if len(name) > 35:
            return "name", _(
                "Mandate reference %(mandate)s is %(length)s characters long: "
                "SEPA allows 35 at most.",
                mandate=name,
                length=len(name),
            )
        if name and not sepa.is_valid_id(name):
            return "name", _(
                "Mandate reference %(mandate)s has characters SEPA refuses: use "
                "letters without accents, digits and / - ? : ( ) . , ' +, without "
                "spaces, not starting or ending with / nor containing //.",
                mandate=name,
            )
        if name in taken:
            return "name", _(
                "Mandate reference %(mandate)s is already used by this creditor "
                "(in Odoo or earlier in the file).",
                mandate=name,
            )
        iban = values.get("debtor_iban")
        if iban and not stdnum_iban.is_valid(iban):
            return "debtor_iban", _(
                "%(iban)s is not a valid IBAN (wrong length or check digits): "
                "check the debtor's account number.",
                iban=iban,
            )
        if not iban and not values.get("partner_bank_id"):
            return "debtor_iban", _("Give the debtor's IBAN.")
        if values.get("already_used") and not (
            values.get("previous_collection_date") or values.get("last_debit_date")
        ):
            return "previous_collection_date", _(
                "The mandate was already used: give the date of its last "
                "collection, so that the next debit is a recurrent one and the "
                "mandate expires 36 months after it."
            )
        return None, None

    @api.model
    def _import_bank_accounts(self, triples):
        """The bank accounts of ``triples`` (partner, IBAN, BIC), found or
        created, in order: one search and at most two creates for them all."""
        # The debtor's account comes with the mandate: whoever may record the
        # mandate may record its account (Billing users are not contact
        # managers), for the debtors they can read.
        partner_bank = self.env["res.partner.bank"].sudo()
        for partner, __, __ in triples:
            partner.check_access("read")
        wanted = [
            (partner.commercial_partner_id, stdnum_iban.compact(iban), bic or "")
            for partner, iban, bic in triples
        ]
        existing = {
            (account.partner_id.id, account.sanitized_acc_number): account
            for account in partner_bank.search(
                [
                    ("partner_id", "in", list({p.id for p, __, __ in wanted})),
                    ("sanitized_acc_number", "in", list({n for __, n, __ in wanted})),
                ]
            )
        }
        bics = {bic.upper() for __, __, bic in wanted if bic}
        banks = {}
        if bics:
            bank_model = self.env["res.bank"].sudo()
            banks = {
                bank.bic: bank
                for bank in bank_model.search([("bic", "in", list(bics))])
            }
            missing = sorted(bics - set(banks))
            if missing:
                for bank in bank_model.create(
                    [{"name": bic, "bic": bic} for bic in missing]
                ):
                    banks[bank.bic] = bank
        to_create = {}
        for partner, number, bic in wanted:
            key = (partner.id, number)
            if key not in existing and key not in to_create:
                to_create[key] = {
                    "partner_id": partner.id,
                    "acc_number": number,
                    "bank_id": banks[bic.upper()].id if bic else False,
                }
        if to_create:
            for key, account in zip(
                to_create, partner_bank.create(list(to_create.values())), strict=True
            ):
                existing[key] = account
        return [
            existing[(partner.id, number)].sudo(False) for partner, number, __ in wanted
        ]
