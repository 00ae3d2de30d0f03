from odoo import _, api, models
from odoo.tools import format_date

from ..lib import sepa


class SubscriptionSepaBatch(models.Model):
    """Preparing the collections: the night run gathers the due direct debit
    invoices into the day's collection, and the checks that leave out the debits
    that must not reach the bank any more."""

    _inherit = "subscription.sepa.batch"

    # === BUSINESS METHODS === #

    def _check_lines(self):
        """Leave out, with a message on the collection and the invoice, every
        debit that must not reach the bank any more: invoice paid, cancelled,
        reversed or with another amount due, mandate no longer active."""
        self.ensure_one()
        for line in self.line_ids.filtered(lambda line: line.state == "to_collect"):
            reason = line._get_exclusion_reason()
            if reason:
                line.with_context(sepa_regenerating=True)._withdraw(reason)

    def _check_collection_date(self):
        """A file never asks for a collection before the bank can make it: the
        date moves to the first TARGET day at least one TARGET day after today
        (D-1, EPC rulebooks) and the debtors are told the new date."""
        self.ensure_one()
        today = self.company_id._subscription_today()
        earliest = sepa.min_collection_date(today)
        valid = max(sepa.next_target_day(self.collection_date), earliest)
        if valid == self.collection_date:
            return False
        previous = self.collection_date
        self.collection_date = valid
        self.message_post(
            body=_(
                "Collection date moved from %(old)s to %(new)s: the bank needs the "
                "file at least one TARGET business day before the collection. "
                "The debtors were told the new date.",
                old=format_date(self.env, previous),
                new=format_date(self.env, valid),
            ),
            subtype_xmlid="mail.mt_note",
        )
        lines = self.line_ids.filtered(lambda line: line.state == "to_collect")
        lines.prenotified = False
        lines.with_context(sepa_previous_date=previous)._send_prenotification()
        return True

    @api.model
    def _cron_prepare_batches(self, batch_size=1000):
        """Gather the unpaid direct debit invoices due by the collection date
        (today + pre-notification days) into that day's collection and pre-notify
        the debtors, a bounded number of invoices per call."""
        companies = self.env["res.company"].search(
            [
                ("sepa_creditor_identifier", "!=", False),
                ("sepa_journal_id", "!=", False),
            ]
        )
        batches = self.browse()
        done = remaining = 0
        for company in companies:
            batch, count, left = self.with_company(company)._prepare_company_batch(
                company, batch_size
            )
            batches |= batch
            done += count
            remaining += left
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        return batches

    def _get_collectable_domain(self, company, collection_date):
        """Invoices the collection run takes: due, on an active mandate, and
        not on a one-off mandate already used. Whatever the run must leave
        aside is left out here, so that the batch always progresses."""
        used_oneoff = self.env["subscription.sepa.mandate"]._search(
            [
                ("mandate_type", "=", "oneoff"),
                ("batch_line_ids.state", "in", ("to_collect", "collected")),
            ]
        )
        return [
            *self.env["account.move"]._get_open_invoice_domain(),
            ("company_id", "=", company.id),
            ("sepa_mandate_id", "!=", False),
            ("sepa_mandate_id.state", "=", "active"),
            ("sepa_mandate_id", "not in", used_oneoff),
            ("payment_collection_pending", "=", False),
            ("sepa_rejected", "=", False),
            ("invoice_date_due", "<=", collection_date),
        ]

    def _prepare_company_batch(self, company, batch_size=1000):
        """Return (the collections, invoices handled, invoices left for later).
        One collection per scheme: B2B debits never go out as CORE."""
        collection_date = sepa.earliest_collection_date(
            company._subscription_today(), company.sepa_prenotification_days
        )
        domain = self._get_collectable_domain(company, collection_date)
        moves = self.env["account.move"].search(
            domain, order="invoice_date_due, id", limit=batch_size
        )
        if not moves:
            return self.browse(), 0, 0
        found = moves
        euro = self.env.ref("base.EUR")
        others = moves.filtered(lambda m: m.currency_id != euro)
        for move in others:
            move.message_post(
                body=_(
                    "Not collected by direct debit: SEPA collects euros only and "
                    "this invoice is in %(currency)s. Ask for a transfer.",
                    currency=move.currency_id.name,
                ),
                subtype_xmlid="mail.mt_note",
            )
        others.write({"sepa_mandate_id": False})
        handled = others
        batches = self.browse()
        moves = moves - others
        # A one-off mandate is debited once: one invoice per one-off mandate.
        seen_oneoff = set()
        for move in moves.sorted(lambda m: (m.invoice_date_due, m.id)):
            mandate = move.sepa_mandate_id
            if mandate.mandate_type != "oneoff":
                continue
            if mandate.id in seen_oneoff:
                moves -= move
                move.message_post(
                    body=_(
                        "Not collected by direct debit: one-off mandate %(mandate)s "
                        "is already used for another invoice. Ask for a transfer "
                        "or a new mandate.",
                        mandate=mandate.name,
                    ),
                    subtype_xmlid="mail.mt_note",
                )
            seen_oneoff.add(mandate.id)
        for scheme, scheme_moves in moves.grouped(
            lambda m: m.sepa_mandate_id.scheme
        ).items():
            batch = self._get_or_create_draft(company, collection_date, scheme)
            lines = batch._add_moves(scheme_moves)
            lines._send_prenotification()
            batches |= batch
            handled |= scheme_moves
        # What still matches now is truly left for the next call.
        left = (
            self.env["account.move"].search_count(domain)
            if len(found) >= batch_size
            else 0
        )
        return batches, len(handled), left

    def _get_or_create_draft(self, company, collection_date, scheme):
        return self.search(
            [
                ("company_id", "=", company.id),
                ("collection_date", "=", collection_date),
                ("journal_id", "=", company.sepa_journal_id.id),
                ("scheme", "=", scheme),
                ("state", "=", "draft"),
            ],
            limit=1,
        ) or self.create(
            {
                "company_id": company.id,
                "collection_date": collection_date,
                "journal_id": company.sepa_journal_id.id,
                "pain_version": company.sepa_pain_version,
                "scheme": scheme,
            }
        )

    def _add_moves(self, moves):
        """One line per invoice; FRST on the first collection of a mandate."""
        self.ensure_one()
        vals_list = []
        first_seen = set()
        for move in moves.sorted(lambda m: (m.invoice_date_due, m.id)):
            mandate = move.sepa_mandate_id
            first = mandate.id not in first_seen and mandate._is_first_collection()
            first_seen.add(mandate.id)
            vals_list.append(
                {
                    "batch_id": self.id,
                    "move_id": move.id,
                    "mandate_id": mandate.id,
                    "amount": move.amount_residual,
                    "sequence_type": sepa.sequence_type(mandate.mandate_type, first),
                    "end_to_end_id": sepa.sanitize_id(f"{move.name}/{move.id}"),
                }
            )
        lines = self.env["subscription.sepa.batch.line"].create(vals_list)
        moves.write({"payment_collection_pending": True})
        return lines
