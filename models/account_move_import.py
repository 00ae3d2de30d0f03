from odoo import _, api, fields, models


class AccountMove(models.Model):
    """Moving in: the customer invoices still open in the previous tool,
    imported from the Invoices list and posted in the same import, so that
    reminders and collections go on from day one. They are not sent again."""

    _inherit = "account.move"

    subscription_import_contract_id = fields.Many2one(
        "subscription.contract",
        string="Subscription Contract",
        compute="_compute_subscription_import",
        inverse="_inverse_subscription_import",
        help="On import: the contract this open invoice of the previous tool "
        "belongs to (its reminders, its mandate).",
    )
    subscription_import_post = fields.Boolean(
        string="Post on Import",
        compute="_compute_subscription_import",
        inverse="_inverse_subscription_import",
        help="On import: post the invoice at once, as it was in the previous tool, "
        "without sending it to the customer again.",
    )

    # === COMPUTE METHODS === #

    @api.depends("subscription_contract_id")
    def _compute_subscription_import(self):
        for move in self:
            move.subscription_import_contract_id = move.subscription_contract_id
            move.subscription_import_post = False

    def _inverse_subscription_import(self):
        for move in self.filtered("subscription_import_contract_id"):
            move.subscription_contract_id = move.subscription_import_contract_id

    # === CRUD METHODS === #

    @api.model
    def get_import_templates(self):
        templates = super().get_import_templates()
        if self.env.context.get("default_move_type") != "out_invoice":
            return templates
        suffix = "fr" if (self.env.lang or "")[:2] == "fr" else "en"
        return [
            *templates,
            {
                "label": _("Import Template for Open Invoices Carried Over (Excel)"),
                "template": f"/subscription_billing/static/xls/"
                f"subscription_open_invoices_{suffix}.xlsx",
            },
            {
                "label": _("Import Template for Open Invoices Carried Over (CSV)"),
                "template": f"/subscription_billing/static/xls/"
                f"subscription_open_invoices_{suffix}.csv",
            },
        ]

    @api.model
    def _load_records(self, data_list, update=False, ignore_duplicates=False):
        to_post = []
        contracts = self.env["subscription.contract"].browse(
            {
                data["values"]["subscription_import_contract_id"]
                for data in data_list
                if data["values"].get("subscription_import_contract_id")
            }
        )
        contracts.fetch(["payment_method", "mandate_id"])
        for data in data_list:
            values = data["values"]
            post = values.pop("subscription_import_post", False)
            contract = contracts.browse(
                values.pop("subscription_import_contract_id", False)
            )
            if contract:
                values["subscription_contract_id"] = contract.id
                if (
                    contract.payment_method == "sepa_direct_debit"
                    and contract.mandate_id.state == "active"
                    and not values.get("sepa_mandate_id")
                ):
                    values["sepa_mandate_id"] = contract.mandate_id.id
            if post:
                # Sent by the previous tool: not sent again when posted.
                values["is_move_sent"] = True
            to_post.append(post)
        records = super()._load_records(data_list, update, ignore_duplicates)
        self.browse(
            [
                data["record"].id
                for data, post in zip(data_list, to_post, strict=True)
                if post and data.get("record")
            ]
        ).filtered(lambda m: m.state == "draft").action_post()
        return records
