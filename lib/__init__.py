"""Pure-Python logic of subscription_billing: no Odoo import, tested by plain pytest."""
