from odoo import _, http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request
from odoo.tools import consteq

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

# Largest id PostgreSQL's integer columns hold: a bigger number in a URL or a
# form is no record, not a database error.
MAX_ID = 2**31 - 1


def _parse_id(value):
    """A positive record id from a URL or form value, else 0."""
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        return 0
    return number if 0 < number <= MAX_ID else 0


class SubscriptionPortal(CustomerPortal):
    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "subscription_count" in counters:
            values["subscription_count"] = (
                request.env["subscription.contract"]
                .sudo()
                .search_count(self._get_subscription_domain())
            )
        return values

    def _subscription_check_access(self, contract_id, access_token=None):
        """The contract, in sudo, if the visitor may see it: with its access
        token, as its customer (whatever the company), or as an employee with
        read access. Anybody else gets a MissingError/AccessError."""
        contract_id = _parse_id(contract_id)
        contract = (
            request.env["subscription.contract"].sudo().browse(contract_id).exists()
            if contract_id
            else None
        )
        if not contract:
            raise MissingError(_("This subscription does not exist."))
        if (
            access_token
            and isinstance(access_token, str)
            and contract.access_token
            # bytes: consteq refuses str with non-ASCII characters
            and consteq(contract.access_token.encode(), access_token.encode())
        ):
            return contract
        user = request.env.user
        if not user._is_public() and (
            contract.commercial_partner_id == user.partner_id.commercial_partner_id
        ):
            return contract
        contract.with_user(user).check_access("read")
        return contract

    def _get_subscription_domain(self):
        partner = request.env.user.partner_id
        return [
            ("partner_id", "child_of", partner.commercial_partner_id.id),
            ("state", "in", ("active", "suspended", "closed")),
        ]

    @http.route(
        ["/my/subscriptions", "/my/subscriptions/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
    )
    def portal_my_subscriptions(self, page=1, **kwargs):
        # The customer's own contracts, in every company they buy from.
        model = request.env["subscription.contract"].sudo()
        domain = self._get_subscription_domain()
        count = model.search_count(domain)
        pager = portal_pager(
            url="/my/subscriptions", total=count, page=page, step=self._items_per_page
        )
        contracts = model.search(
            domain,
            order="state, date_start desc",
            limit=self._items_per_page,
            offset=pager["offset"],
        )
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "contracts": contracts,
                # Several companies bill this customer: show which one bills what.
                "multi_company": len(model.search(domain).company_id) > 1,
                "pager": pager,
                "page_name": "subscription",
                "default_url": "/my/subscriptions",
            }
        )
        return request.render("subscription_billing.portal_my_subscriptions", values)

    @http.route(
        ["/my/subscriptions/<int:contract_id>"],
        type="http",
        auth="public",
        website=True,
    )
    def portal_my_subscription(
        self, contract_id, access_token=None, report_type=None, **kw
    ):
        try:
            contract = self._subscription_check_access(contract_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        if report_type in ("html", "pdf", "text"):
            return self._show_report(
                model=contract,
                report_type=report_type,
                report_ref="subscription_billing.action_report_subscription_contract",
                download=kw.get("download"),
            )
        values = self._subscription_get_page_view_values(contract, access_token, **kw)
        return request.render("subscription_billing.portal_my_subscription", values)

    def _subscription_get_page_view_values(self, contract, access_token, **kw):
        invoices = contract.invoice_ids.filtered(lambda m: m.state == "posted").sorted(
            "invoice_date", reverse=True
        )
        is_customer = (
            not request.env.user._is_public()
            and request.env.user.partner_id.commercial_partner_id
            == contract.commercial_partner_id
        )
        # Saved cards are offered on card contracts, to their customer only.
        cards = (
            request.env["payment.token"]
            .sudo()
            .search([("partner_id", "child_of", contract.commercial_partner_id.id)])
            if is_customer and contract.payment_method == "card"
            else request.env["payment.token"]
        )
        # Several companies bill this customer: say which one bills this contract.
        multi_company = (
            len(
                request.env["subscription.contract"]
                .sudo()
                .search(
                    [("commercial_partner_id", "=", contract.commercial_partner_id.id)]
                )
                .company_id
            )
            > 1
        )
        values = self._get_page_view_values(
            contract,
            access_token,
            {
                "contract": contract,
                "contract_invoices": invoices,
                "cards": cards,
                "multi_company": multi_company,
                "tax_totals": contract._get_portal_tax_totals(),
                "transfer_qr_codes": contract._get_portal_transfer_qr_codes(),
                "bank_account": contract._get_portal_bank_account(),
                "page_name": "subscription",
                "message": kw.get("message"),
            },
            "my_subscriptions_history",
            False,
        )
        if is_customer and not access_token:
            # The chatter posts with the contract's token, whatever the
            # company of the contract and the companies of the portal user.
            values["token"] = contract._portal_ensure_token()
        return values

    @http.route(
        ["/my/subscriptions/<int:contract_id>/card"],
        type="http",
        auth="user",
        methods=["POST"],
        website=True,
    )
    def portal_my_subscription_card(self, contract_id, token_id=None, **kw):
        """The customer chooses which saved card pays the contract."""
        try:
            contract = self._subscription_check_access(contract_id)
        except (AccessError, MissingError):
            return request.redirect("/my")
        partner = request.env.user.partner_id.commercial_partner_id
        token = (
            request.env["payment.token"]
            .sudo()
            .search(
                [
                    ("id", "=", _parse_id(token_id)),
                    ("partner_id", "child_of", partner.id),
                ]
            )
        )
        if (
            not token
            or contract.commercial_partner_id != partner
            or contract.payment_method != "card"
        ):
            return request.redirect(
                f"/my/subscriptions/{contract.id}?message=card_refused"
            )
        if token._is_card_expired(contract.company_id._subscription_today()):
            return request.redirect(
                f"/my/subscriptions/{contract.id}?message=card_expired"
            )
        contract.sudo().write({"payment_token_id": token.id, "payment_method": "card"})
        contract.sudo().message_post(
            body=_(
                "The customer chose to pay with the card %(card)s.",
                card=token.display_name,
            ),
            subtype_xmlid="mail.mt_note",
        )
        return request.redirect(f"/my/subscriptions/{contract.id}?message=card_saved")
