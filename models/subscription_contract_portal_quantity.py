from odoo import _, models
from odoo.exceptions import UserError
from odoo.tools import float_compare, format_date


class SubscriptionContract(models.Model):
    """Customers change the quantities of their lines on the portal, through
    the Amend wizard and its amendment engine (prorated by the day)."""

    _inherit = "subscription.contract"

    def _can_portal_change_quantity(self):
        self.ensure_one()
        return bool(
            self.state == "active"
            and self.plan_id.portal_quantity_change
            and not self.termination_date
            and self._get_portal_quantity_lines()
        )

    def _get_portal_quantity_lines(self):
        self.ensure_one()
        today = self._get_today()
        return self.line_ids.filtered(lambda line: line._is_open_on(today))

    def _get_portal_quantity_date(self, increase):
        """An increase applies today; a decrease at the end of the period
        already invoiced, unless the company credits decreases at once."""
        self.ensure_one()
        today = self._get_today()
        if (
            not increase
            and not self.company_id.subscription_credit_decrease
            and self.next_period_start
            and self.next_period_start > today
        ):
            return self.next_period_start
        return max(today, self._get_amendment_min_date())

    def _prepare_portal_quantity_change(self, quantities):
        """The Amend wizard (sudo) set to ``quantities`` ({line id: quantity}):
        its amounts are the preview, its confirmation the change."""
        self.ensure_one()
        if not self._can_portal_change_quantity():
            raise UserError(
                _("The quantities of this subscription cannot be changed online.")
            )
        plan = self.plan_id
        lines = self._get_portal_quantity_lines()
        changes = {}
        for line in lines:
            if line.id not in quantities:
                continue
            quantity = quantities[line.id]
            too_low = float_compare(quantity, plan.portal_min_quantity, 2) < 0
            too_high = plan.portal_max_quantity and (
                float_compare(quantity, plan.portal_max_quantity, 2) > 0
            )
            if quantity <= 0 or too_low or too_high:
                raise UserError(
                    _(
                        "Choose a quantity between %(min)s and %(max)s.",
                        min=plan.portal_min_quantity,
                        max=plan.portal_max_quantity or _("any number"),
                    )
                )
            if float_compare(quantity, line.quantity, 2):
                changes[line.id] = quantity
        if not changes:
            raise UserError(_("Nothing changed: choose another quantity."))
        increase = any(
            changes[line.id] > line.quantity
            for line in lines.filtered(lambda ln: ln.id in changes)
        )
        day = self._get_portal_quantity_date(increase)
        wizard = (
            self.env["subscription.contract.amend"]
            .sudo()
            .create({"contract_id": self.id, "date": day})
        )
        for wizard_line in wizard.line_ids:
            if wizard_line.contract_line_id.id in changes:
                wizard_line.quantity = changes[wizard_line.contract_line_id.id]
        return wizard

    def _portal_change_quantity(self, quantities, origin=None):
        self.ensure_one()
        wizard = self._prepare_portal_quantity_change(quantities)
        day = wizard.date
        wizard.action_confirm()
        body = _(
            "The customer changed the quantities online, from %(date)s.",
            date=format_date(self.env, day),
        )
        if origin:
            body += " " + origin
        self.message_post(body=body, subtype_xmlid="mail.mt_note")
        return day
