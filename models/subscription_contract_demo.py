from odoo import api, fields, models


class SubscriptionContract(models.Model):
    _inherit = "subscription.contract"

    @api.model
    def _demo_run_book(self, contract_ids, late_ids, unpaid_ids):
        """Demo data only (called from demo/subscription_contract_demo.xml): run
        the book's daily flows over the past months so that a new database shows
        the product at work. Every step is the production flow, called for each
        past day in turn: billing, card charges, payments of the customers who
        pay on time, payment reminders (and the suspension they lead to), then
        today's direct debit collection and renewal notices.

        ``late_ids``: contracts whose customer stopped paying three weeks ago;
        ``unpaid_ids``: contracts whose customer never pays (suspended by the
        reminders)."""
        contracts = self.browse(contract_ids).exists()
        late = self.browse(late_ids).exists()
        unpaid = self.browse(unpaid_ids).exists()
        today = fields.Date.context_today(self)
        day = min(contracts.mapped("date_start"))
        while day <= today:
            running = contracts.filtered(lambda c: c.state in ("active", "closed"))
            invoices = running._generate_invoices(today=day)
            # Card invoices are charged the day they are issued.
            for invoice in invoices.filtered("card_next_try_date"):
                invoice._charge_card()
            open_moves = contracts.invoice_ids.filtered(
                lambda m: (
                    m.state == "posted" and m.payment_state in ("not_paid", "partial")
                )
            )
            late_moves = open_moves.filtered(
                lambda m: (
                    m.subscription_contract_id in unpaid
                    or (
                        m.subscription_contract_id in late
                        and (today - m.invoice_date_due).days < 12
                    )
                )
            )
            # Transfer and direct debit customers pay on the due date; the
            # last direct debit invoices are left to today's collection.
            collect_before = fields.Date.subtract(today, days=20)
            to_pay = (
                open_moves.filtered_domain(
                    [
                        ("invoice_date_due", "=", day),
                        "|",
                        ("subscription_contract_id.payment_method", "=", "transfer"),
                        "&",
                        (
                            "subscription_contract_id.payment_method",
                            "=",
                            "sepa_direct_debit",
                        ),
                        ("invoice_date_due", "<", collect_before),
                    ]
                )
                - late_moves
            )
            for invoice in to_pay:
                invoice._demo_register_payment(day)
            late_moves._send_reminders(today=day)
            day = fields.Date.add(day, days=1)
        # Today: collect the direct debits, send the renewal notices. The
        # invoices are sent by the scheduled action once Odoo serves (their PDF
        # needs the web server's stylesheets).
        batches = self.env["subscription.sepa.batch"]._cron_prepare_batches()
        batches.action_generate()
        self._cron_process_renewals()
        return True


class AccountMove(models.Model):
    _inherit = "account.move"

    def _demo_register_payment(self, day):
        """Demo data only: the customer pays the invoice by transfer on ``day``."""
        return (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=self.ids)
            .create({"payment_date": day})
            ._create_payments()
        )
