from werkzeug.exceptions import Forbidden, NotFound

from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import request
from odoo.tools import consteq, format_date

from .portal import SubscriptionPortal, _parse_id


class SubscriptionSelfServicePortal(SubscriptionPortal):
    """Customers end their contract or refuse its renewal themselves (French
    Consumer Code, L215-1-1): from the contract page, one page that says what
    ends when, one confirmation."""

    def _selfservice_contract(self, contract_id, access_token=None):
        """The contract (sudo) if the visitor is its customer or holds its
        token: 404 for no such contract, 403 for someone else's."""
        try:
            contract = self._subscription_check_access(contract_id, access_token)
        except MissingError as error:
            raise NotFound() from error
        except AccessError as error:
            raise Forbidden() from error
        user = request.env.user
        has_token = bool(
            access_token
            and isinstance(access_token, str)
            and contract.access_token
            and consteq(contract.access_token.encode(), access_token.encode())
        )
        is_customer = (
            not user._is_public()
            and user.partner_id.commercial_partner_id == contract.commercial_partner_id
        )
        if not (has_token or is_customer):
            # Employees may read it, but only the customer ends it.
            raise Forbidden()
        return contract

    def _selfservice_url(self, contract, access_token=None, **params):
        url = f"/my/subscriptions/{contract.id}"
        query = dict(params)
        if access_token:
            query["access_token"] = access_token
        if query:
            url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        return url

    def _selfservice_values(self, contract, access_token, **values):
        env = request.env
        today = contract._get_today()
        result = self._prepare_portal_layout_values()
        result.update(
            {
                "contract": contract,
                "page_name": "subscription",
                "access_token": access_token,
                "today": today,
                "back_url": self._selfservice_url(contract, access_token),
            }
        )
        result.update(values)
        result["format_date"] = lambda day: format_date(env, day)
        return result

    @http.route(
        ["/my/subscriptions/<int:contract_id>/terminate"],
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
    )
    def portal_subscription_terminate(self, contract_id, access_token=None, **kw):
        contract = self._selfservice_contract(contract_id, access_token)
        info = contract._get_portal_termination()
        summary = (
            contract._get_termination_summary(info["end"]) if info["allowed"] else []
        )
        values = self._selfservice_values(
            contract,
            access_token,
            info=info,
            summary=summary,
            rule_label=contract._get_portal_termination_rules().get(info["rule"]),
        )
        return request.render(
            "subscription_billing.portal_subscription_terminate", values
        )

    @http.route(
        ["/my/subscriptions/<int:contract_id>/terminate"],
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
    )
    def portal_subscription_terminate_confirm(
        self, contract_id, access_token=None, **kw
    ):
        contract = self._selfservice_contract(contract_id, access_token)
        try:
            contract._portal_terminate(origin=self._selfservice_origin())
        except UserError:
            return request.redirect(
                self._selfservice_url(contract, access_token, message="end_refused")
            )
        return request.redirect(
            self._selfservice_url(contract, access_token, message="ended")
        )

    @http.route(
        ["/my/subscriptions/<int:contract_id>/refuse_renewal"],
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
    )
    def portal_subscription_refuse_renewal(self, contract_id, access_token=None, **kw):
        contract = self._selfservice_contract(contract_id, access_token)
        can_refuse = contract._can_portal_refuse_renewal()
        summary = (
            contract._get_termination_summary(contract.date_end) if can_refuse else []
        )
        values = self._selfservice_values(
            contract, access_token, can_refuse=can_refuse, summary=summary
        )
        return request.render(
            "subscription_billing.portal_subscription_refuse_renewal", values
        )

    @http.route(
        ["/my/subscriptions/<int:contract_id>/refuse_renewal"],
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
    )
    def portal_subscription_refuse_renewal_confirm(
        self, contract_id, access_token=None, **kw
    ):
        contract = self._selfservice_contract(contract_id, access_token)
        try:
            contract._portal_refuse_renewal(origin=self._selfservice_origin())
        except UserError:
            return request.redirect(
                self._selfservice_url(contract, access_token, message="end_refused")
            )
        return request.redirect(
            self._selfservice_url(contract, access_token, message="renewal_refused")
        )

    # === QUANTITIES === #

    def _selfservice_quantities(self, contract, params):
        """{line id: quantity} read from the form's ``qty_<line id>`` fields;
        anything malformed is left out."""
        result = {}
        for line in contract._get_portal_quantity_lines():
            value = params.get(f"qty_{line.id}")
            if value in (None, ""):
                continue
            try:
                result[line.id] = float(value)
            except (TypeError, ValueError):
                continue
        return result

    @http.route(
        ["/my/subscriptions/<int:contract_id>/quantity"],
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
    )
    def portal_subscription_quantity(self, contract_id, access_token=None, **kw):
        contract = self._selfservice_contract(contract_id, access_token)
        allowed = contract._can_portal_change_quantity()
        quantities = self._selfservice_quantities(contract, kw) if allowed else {}
        preview = error = False
        if quantities:
            try:
                # A preview: nothing it creates is kept.
                with request.env.cr.savepoint() as savepoint:
                    wizard = contract._prepare_portal_quantity_change(quantities)
                    preview = {
                        "date": wizard.date,
                        "amount_now": wizard.amount_now,
                        "note": wizard.amount_now_note,
                        "recurring": wizard.new_recurring_amount,
                    }
                    savepoint.rollback()
            except UserError as exc:
                error = exc.args[0]
            request.env.invalidate_all()
        values = self._selfservice_values(
            contract,
            access_token,
            allowed=allowed,
            lines=contract._get_portal_quantity_lines() if allowed else [],
            quantities=quantities,
            preview=preview,
            error=error,
        )
        return request.render(
            "subscription_billing.portal_subscription_quantity", values
        )

    @http.route(
        ["/my/subscriptions/<int:contract_id>/quantity"],
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
    )
    def portal_subscription_quantity_confirm(
        self, contract_id, access_token=None, **kw
    ):
        contract = self._selfservice_contract(contract_id, access_token)
        quantities = self._selfservice_quantities(contract, kw)
        try:
            contract._portal_change_quantity(
                quantities, origin=self._selfservice_origin()
            )
        except UserError:
            return request.redirect(
                self._selfservice_url(
                    contract, access_token, message="quantity_refused"
                )
            )
        return request.redirect(
            self._selfservice_url(contract, access_token, message="quantity_changed")
        )

    # === HOW TO PAY === #

    @http.route(
        ["/my/subscriptions/<int:contract_id>/payment"],
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
    )
    def portal_subscription_payment(
        self, contract_id, access_token=None, method=None, **kw
    ):
        """Pay by one of the customer's cards, by transfer, or by a SEPA
        mandate signed here; from the next invoice."""
        contract = self._selfservice_contract(contract_id, access_token)
        origin = self._selfservice_origin()
        try:
            if method == "card":
                token = (
                    request.env["payment.token"]
                    .sudo()
                    .browse(_parse_id(kw.get("token_id")))
                    .exists()
                )
                contract._portal_pay_by_card(token, origin=origin)
            elif method == "transfer":
                contract._portal_pay_by_transfer(origin=origin)
            elif method == "sepa" and kw.get("accept") and kw.get("iban"):
                contract._portal_sign_mandate(
                    kw.get("iban"),
                    kw.get("holder"),
                    bic=kw.get("bic"),
                    ip=request.httprequest.remote_addr,
                    origin=origin,
                )
            else:
                raise UserError(request.env._("Choose how you want to pay."))
        except UserError:
            return request.redirect(
                self._selfservice_url(contract, access_token, message="payment_refused")
            )
        return request.redirect(
            self._selfservice_url(contract, access_token, message="payment_changed")
        )

    def _selfservice_origin(self):
        """Who asked, for the chatter: the portal user or the token holder,
        and the IP address."""
        user = request.env.user
        who = (
            user.partner_id.display_name
            if not user._is_public()
            else request.env._("the holder of the link")
        )
        return request.env._(
            "(Asked by %(who)s from %(ip)s.)",
            who=who,
            ip=request.httprequest.remote_addr or "?",
        )
