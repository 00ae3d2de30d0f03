# Records that stay in use after the addon is gone: products, journals and bank
# accounts on invoices and payments, saved cards on transactions. The addon's own
# tables (contracts, plans, policies, mandates...) are dropped whole with their
# rows; deleting those rows one by one first only trips over the invoices and
# logs that reference them.
KEPT_MODELS = (
    "product.product",
    "product.template",
    "account.journal",
    "res.bank",
    "res.partner.bank",
    "payment.token",
)


def uninstall_hook(env):
    """Forget the external ids of the addon's business records, so that the
    uninstall drops the addon's tables and leaves the records that accounting
    documents use, as it does for records users create."""
    own_models = [
        name
        for name, model in env.registry.items()
        if name.startswith("subscription.") and not model._abstract
    ]
    env["ir.model.data"].search(
        [
            ("module", "=", "subscription_billing"),
            ("model", "in", own_models + list(KEPT_MODELS)),
        ]
    ).unlink()
    # The trigger function of the usage records (the trigger goes with its table).
    env.cr.execute("DROP FUNCTION IF EXISTS subscription_usage_no_rebill() CASCADE")
