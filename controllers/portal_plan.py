from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

from ..models.subscription_contract_portal_plan import CommitmentNotAccepted
from .portal import _parse_id
from .portal_selfservice import SubscriptionSelfServicePortal


class SubscriptionPlanPortal(SubscriptionSelfServicePortal):
    """Customers move to another plan: choose among the plans offered, see
    the amounts (the Amend wizard's, as for quantities) and the commitment,
    confirm."""

    def _plan_target(self, contract, plan_id):
        """The plan asked for (sudo), or an empty recordset when malformed."""
        return (
            request.env["subscription.plan"].sudo().browse(_parse_id(plan_id)).exists()
        )

    def _plan_preview(self, contract, target):
        """(preview dict, error message): nothing the preview creates is kept."""
        preview = error = False
        try:
            with request.env.cr.savepoint() as savepoint:
                wizard = contract._prepare_portal_plan_change(target)
                new_end, longer = contract._get_portal_plan_commitment(
                    target, wizard.date
                )
                preview = {
                    "date": wizard.date,
                    "amount_now": wizard.amount_now,
                    "note": wizard.amount_now_note,
                    "recurring": wizard.new_recurring_amount,
                    "upgrade": wizard.new_recurring_amount >= wizard.recurring_amount,
                    "commitment_end": new_end,
                    "longer": longer,
                }
                savepoint.rollback()
        except UserError as exc:
            error = exc.args[0]
        request.env.invalidate_all()
        return preview, error

    def _plan_render(
        self, contract, access_token, target, error=False, commitment_refused=False
    ):
        allowed = contract._can_portal_change_plan()
        preview = False
        if allowed and target:
            preview, preview_error = self._plan_preview(contract, target)
            error = preview_error or error
        line = contract._get_portal_plan_line() if allowed else False
        targets = contract._get_portal_target_plans() if allowed else []
        prices = {
            plan.id: contract.currency_id.round(
                plan.portal_product_id.lst_price * line.quantity
            )
            for plan in targets
        }
        values = self._selfservice_values(
            contract,
            access_token,
            allowed=allowed,
            targets=targets,
            prices=prices,
            target=target,
            preview=preview,
            # Said by the page (translated with it) rather than the message.
            error=False if commitment_refused else error,
            commitment_refused=commitment_refused,
        )
        return request.render("subscription_billing.portal_subscription_plan", values)

    @http.route(
        ["/my/subscriptions/<int:contract_id>/plan"],
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
    )
    def portal_subscription_plan(
        self, contract_id, access_token=None, plan_id=None, **kw
    ):
        contract = self._selfservice_contract(contract_id, access_token)
        target = self._plan_target(contract, plan_id)
        error = False
        if plan_id and not target:
            error = request.env._(
                "This plan cannot be chosen online for this subscription: "
                "choose one of the plans offered."
            )
        return self._plan_render(contract, access_token, target, error=error)

    @http.route(
        ["/my/subscriptions/<int:contract_id>/plan"],
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
    )
    def portal_subscription_plan_confirm(
        self, contract_id, access_token=None, plan_id=None, **kw
    ):
        contract = self._selfservice_contract(contract_id, access_token)
        target = self._plan_target(contract, plan_id)
        try:
            with request.env.cr.savepoint():
                contract._portal_change_plan(
                    target,
                    accept_commitment=bool(kw.get("accept_commitment")),
                    origin=self._selfservice_origin(),
                )
        except UserError as exc:
            request.env.invalidate_all()
            return self._plan_render(
                contract,
                access_token,
                target,
                error=exc.args[0],
                commitment_refused=isinstance(exc, CommitmentNotAccepted),
            )
        return request.redirect(
            self._selfservice_url(contract, access_token, message="plan_changed")
        )
