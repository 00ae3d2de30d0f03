from odoo import _, models
from odoo.exceptions import UserError
from odoo.tools import format_date

from ..lib import recurrence
from .subscription_plan_portal_plan import SAME_RULE_FIELDS


class CommitmentNotAccepted(UserError):
    """The customer did not tick the box that accepts a longer commitment."""


class SubscriptionContract(models.Model):
    """Customers move to another plan on the portal. The plan's line is
    replaced through the Amend wizard and its amendment engine (prorated by
    the day), exactly as a quantity change: a higher amount at once, a lower
    one at the end of the invoiced period (or at once with a credit)."""

    _inherit = "subscription.contract"

    def _get_portal_plan_line(self):
        """The open line that stands for the plan (its Plan Product)."""
        self.ensure_one()
        product = self.plan_id.portal_product_id
        if not product:
            return self.env["subscription.contract.line"]
        today = self._get_today()
        return self.line_ids.filtered(
            lambda line: line.product_id == product and line._is_open_on(today)
        )[:1]

    def _get_portal_target_plans(self):
        self.ensure_one()
        plan = self.plan_id
        return plan.portal_target_plan_ids.filtered(
            lambda target: (
                target.active
                and target.portal_product_id
                and target.company_id in (self.company_id, self.env["res.company"])
                and all(target[f] == plan[f] for f in SAME_RULE_FIELDS)
            )
        )

    def _can_portal_change_plan(self):
        self.ensure_one()
        return bool(
            self.state == "active"
            and not self.termination_date
            and self._get_portal_target_plans()
            and self._get_portal_plan_line()
        )

    def _get_portal_plan_commitment(self, target, day):
        """(last day of the commitment after the move, whether it is longer
        than the current one). The target's commitment counts from ``day``."""
        self.ensure_one()
        new_end = recurrence.commitment_end(
            day, target.commitment_length, target.commitment_unit
        )
        longer = bool(new_end and (not self.date_end or new_end > self.date_end))
        return (new_end if longer else self.date_end), longer

    def _prepare_portal_plan_change(self, target):
        """The Amend wizard (sudo) replacing the plan's line with ``target``'s
        product: its amounts are the preview, its confirmation the change."""
        self.ensure_one()
        if not self._can_portal_change_plan():
            raise UserError(
                _("The plan of this subscription cannot be changed online.")
            )
        if not target or target not in self._get_portal_target_plans():
            raise UserError(
                _(
                    "This plan cannot be chosen online for this subscription: "
                    "choose one of the plans offered."
                )
            )
        line = self._get_portal_plan_line()
        wizard = (
            self.env["subscription.contract.amend"]
            .sudo()
            .create(
                {
                    "contract_id": self.id,
                    "date": self._get_portal_quantity_date(increase=True),
                }
            )
        )
        wizard_line = wizard.line_ids.filtered(lambda wl: wl.contract_line_id == line)
        wizard_line.product_id = target.portal_product_id
        wizard_line._onchange_product_id()
        # A lower amount: when the quantity decreases would apply.
        increase = wizard.new_recurring_amount >= wizard.recurring_amount
        day = self._get_portal_quantity_date(increase)
        if day != wizard.date:
            wizard.date = day
        return wizard

    def _portal_change_plan(self, target, accept_commitment=False, origin=None):
        self.ensure_one()
        wizard = self._prepare_portal_plan_change(target)
        day = wizard.date
        new_end, longer = self._get_portal_plan_commitment(target, day)
        if longer and not accept_commitment:
            raise CommitmentNotAccepted(
                _(
                    "The plan %(plan)s commits you until %(date)s: tick the box to "
                    "accept this commitment, or choose another plan.",
                    plan=target.display_name,
                    date=format_date(self.env, new_end),
                )
            )
        old_plan = self.plan_id
        # The contract keeps its own rule (copied when it was signed) unless
        # the customer accepted the target plan's longer commitment.
        rule = target._get_contract_rule_vals()
        vals = {fname: self[fname] for fname in rule}
        if longer:
            vals.update(rule, date_end=new_end)
        vals["plan_id"] = target.id
        self.sudo().write(vals)
        # The new plan is the contract's when its lines change (and the
        # customer's amendment notice goes out).
        wizard.action_confirm()
        body = _(
            "The customer moved from the plan %(old)s to %(new)s online, from "
            "%(date)s.",
            old=old_plan.display_name,
            new=target.display_name,
            date=format_date(self.env, day),
        )
        if longer:
            body += " " + _(
                "They accepted the commitment until %(date)s.",
                date=format_date(self.env, new_end),
            )
        if origin:
            body += " " + origin
        self.message_post(body=body, subtype_xmlid="mail.mt_note")
        return day
