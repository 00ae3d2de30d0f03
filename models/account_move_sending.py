import logging
import random
import time

import psycopg2

from odoo import api, models, modules
from odoo.exceptions import UserError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL

from .account_move_send import InvoicePdfPrerenderer
from .row_claim import claim_skip_locked

_logger = logging.getLogger(__name__)

# Tries of one chunk's short sending transaction that met a deadlock, a
# serialization failure or a lock held too long; then left to the next call.
SEND_TRIES = 4
# Longest wait of a sending transaction for a row lock (the invoices themselves
# are claimed with SKIP LOCKED): a customer's or an accountant's transaction
# holding a row the sending needs makes it retry rather than queue.
SEND_LOCK_TIMEOUT = "10s"
# Invoices sent per transaction (their rows locked until it commits).
SEND_CHUNK = 10


class AccountMove(models.Model):
    _inherit = "account.move"

    @api.model
    def _subscription_claim_to_send(self, limit=None, ids=None):
        """Lock for this transaction up to ``limit`` invoices waiting to be sent
        (among ``ids`` when given), oldest first, skipping those another
        transaction holds (another sender, an accountant registering a payment):
        several workers send at once, never the same invoice."""
        domain = self._get_subscription_send_domain()
        if ids is not None:
            domain = [*domain, ("id", "in", list(ids))]
        query = self.sudo()._search(domain, order="id", limit=limit)
        claimed = claim_skip_locked(self, query)
        if claimed is not None:
            return claimed
        # An invoice changed since this transaction began (sent by another
        # worker, paid by an accountant): claim one by one, skipping those.
        _logger.info("Invoices to send changed meanwhile, claiming one by one")
        claimed = self.browse()
        for move in self.sudo().search(domain, order="id"):
            try:
                with self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(
                        SQL(
                            "SELECT id FROM account_move WHERE id = %s "
                            "FOR NO KEY UPDATE SKIP LOCKED",
                            move.id,
                        ),
                        log_exceptions=False,
                    )
                    if self.env.cr.fetchone():
                        claimed |= move
            except psycopg2.errors.SerializationFailure:
                continue
            if limit and len(claimed) >= limit:
                break
        return self.browse(claimed.ids)

    def _subscription_send_claimed(self):
        """Send invoices this transaction holds: the batch at once, else each in
        its own savepoint, so that one failing invoice never stops the others."""
        try:
            with self.env.cr.savepoint():
                self._subscription_send()
            return
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            # Not the invoices' fault: the transaction is tried again.
            raise
        except Exception:  # pylint: disable=broad-except
            _logger.info("Sending a batch of invoices failed, sending one by one")
        for move in self:
            try:
                with self.env.cr.savepoint():
                    move._subscription_send()
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                raise
            except Exception as error:  # pylint: disable=broad-except
                # It stays to send: retried on the next days, then flagged.
                move._subscription_send_failed(str(error))

    def _subscription_send_now(self):
        """Send these invoices now through the path of the sending cron (claimed
        with row locks, one savepoint per invoice on failure); return those sent
        here. An invoice another transaction holds is left to the cron."""
        moves = self._subscription_claim_to_send(ids=self.ids)
        moves._subscription_send_claimed()
        return moves

    def _generate_qr_code(self, silent_errors=False):
        # Odoo writes the QR method on the invoice each time its PDF is rendered
        # (a row lock and a write from a mere print: a portal download, the
        # sending's rendering threads). Once the method is known, build the
        # code without writing anything.
        if not (self.display_qr_code and self.qr_code_method):
            return super()._generate_qr_code(silent_errors=silent_errors)
        error = self.partner_bank_id._get_error_messages_for_qr(
            self.qr_code_method, self.partner_id, self.currency_id
        )
        if error:
            raise UserError(error)
        return self.partner_bank_id.build_qr_code_base64(
            self.amount_residual,
            self.ref or self.name,
            self.payment_reference,
            self.currency_id,
            self.partner_id,
            self.qr_code_method,
            silent_errors=silent_errors,
        )

    def _subscription_prepare_to_send(self):
        """Write beforehand, in the claiming transaction, what rendering these
        invoices would write otherwise (the QR code method, written by the PDF)
        and their access tokens: rendering then writes no invoice row."""
        for move in self.filtered(lambda m: m.display_qr_code and not m.qr_code_method):
            try:
                with self.env.cr.savepoint():
                    move._generate_qr_code(silent_errors=True)
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                raise
            except Exception as error:  # pylint: disable=broad-except
                _logger.info("No QR code on %s: %s", move.name, error)
        self.filtered(lambda m: not m.access_token)._portal_ensure_token()

    def _subscription_prepare_customers(self):
        """Prepare the portal signup of these invoices' customers (the invoice
        email's access link would write it on each customer) before any invoice
        is locked: customers locked in id order, those someone holds skipped
        (their email writes it then)."""
        if self.env["res.users"]._get_signup_invitation_scope() != "b2c":
            return
        partners = self.partner_id.sudo().filtered(
            lambda p: not p.user_ids and p.signup_type != "signup"
        )
        if not partners:
            return
        self.env.cr.execute(
            SQL(
                "SELECT id FROM res_partner WHERE id IN %s ORDER BY id "
                "FOR NO KEY UPDATE SKIP LOCKED",
                tuple(partners.ids),
            )
        )
        partners.browse(row[0] for row in self.env.cr.fetchall()).signup_prepare()

    @api.model
    def _subscription_may_commit(self):
        """Whether the sending may commit as it goes: not inside a test's
        transaction (whose data no other cursor sees)."""
        return not self.env.registry.in_test_mode() and not modules.module.current_test

    @api.model
    def _subscription_send_committing(self, batch_size):
        """The sending cron outside tests: no transaction holds a row lock while
        wkhtmltopdf runs. Prepare the customers (their own short transaction,
        before any invoice is locked); claim a batch of invoices (rows no one
        else holds), write on them what rendering would write, commit; render
        the PDFs with no lock held (threads with their own cursors); then send
        chunk by chunk, each in a short transaction that claims its invoices
        again (those sent meanwhile or held by someone are skipped: an invoice
        is sent once) and commits. Return the invoices handled (sent, or given
        up with a note)."""

        def prepare_customers():
            self.sudo().search(
                self._get_subscription_send_domain(), order="id", limit=batch_size
            )._subscription_prepare_customers()
            return True

        def claim():
            moves = self._subscription_claim_to_send(limit=batch_size)
            moves._subscription_prepare_to_send()
            return moves

        self._subscription_committed(prepare_customers, "preparing customers")
        moves = self._subscription_committed(claim, "claiming invoices")
        if not moves:
            return self.browse()
        sender = self.env["account.move.send"].with_context(subscription_prerender=True)
        prerenderer = InvoicePdfPrerenderer(
            sender, moves, threads=sender._subscription_can_prerender()
        )
        handled = self.browse()
        try:
            for chunk in prerenderer.chunks:
                pdfs = prerenderer.result(chunk) if prerenderer.executor else {}
                # Locks held while emails are rendered: a few invoices at a time.
                for start in range(0, len(chunk), SEND_CHUNK):

                    def send(ids=chunk[start : start + SEND_CHUNK].ids, pdfs=pdfs):
                        moves = self._subscription_claim_to_send(ids=ids)
                        moves.with_context(
                            subscription_prerendered=pdfs
                        )._subscription_send_claimed()
                        return moves

                    handled |= self._subscription_committed(send, "sending invoices")
        finally:
            prerenderer.close()
        return handled

    @api.model
    def _subscription_committed(self, work, what):
        """Run ``work`` in a short transaction of its own, never waiting over
        ``SEND_LOCK_TIMEOUT`` for a row lock, and commit it; a deadlock, a
        serialization failure or a lock waited for too long rolls it back and it
        is tried again (``SEND_TRIES``), then left to the next call (empty
        records returned)."""
        cr = self.env.cr
        cr.commit()  # pylint: disable=invalid-commit
        for attempt in range(1, SEND_TRIES + 1):
            try:
                cr.execute(SQL("SET LOCAL lock_timeout = %s", SEND_LOCK_TIMEOUT))
                result = work()
                self.env.flush_all()
                cr.commit()  # pylint: disable=invalid-commit
                return result
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY as error:
                cr.rollback()
                _logger.info(
                    "Subscriptions, %s: %s (try %s of %s)",
                    what,
                    type(error).__name__,
                    attempt,
                    SEND_TRIES,
                )
                time.sleep(random.uniform(0.1, 0.5) * attempt)  # noqa: S311
        return self.browse()

    @api.model
    def _cron_subscription_send(self, batch_size=100):
        """Send a bounded batch of posted subscription invoices waiting to be sent;
        the cron runner commits after each call and calls again while some wait.
        Return how many still wait."""
        if self._subscription_may_commit():
            moves = self._subscription_send_committing(batch_size)
        else:
            moves = self._subscription_claim_to_send(limit=batch_size)
            moves._subscription_send_claimed()
        # Invoices another worker holds still wait: they are counted. Those just
        # handled are not (sent, or given up with a note), so that an invoice that
        # cannot be sent never makes the runner loop.
        remaining = self.sudo().search_count(
            [*self._get_subscription_send_domain(), ("id", "not in", moves.ids)]
        )
        self.env["ir.cron"]._notify_progress(done=len(moves), remaining=remaining)
        return remaining
