import logging

import psycopg2

from odoo import api, models
from odoo.tools import SQL

from .row_claim import claim_skip_locked

_logger = logging.getLogger(__name__)


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
        except Exception:  # pylint: disable=broad-except
            _logger.info("Sending a batch of invoices failed, sending one by one")
        for move in self:
            try:
                with self.env.cr.savepoint():
                    move._subscription_send()
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

    @api.model
    def _cron_subscription_send(self, batch_size=100):
        """Send a bounded batch of posted subscription invoices waiting to be sent;
        the cron runner commits after each call and calls again while some wait.
        Return how many still wait."""
        moves = self._subscription_claim_to_send(limit=batch_size)
        # Committed invoices only: their PDFs may be rendered ahead in threads.
        moves.with_context(subscription_prerender=True)._subscription_send_claimed()
        # Invoices another worker holds still wait: they are counted. Those just
        # handled are not (sent, or given up with a note), so that an invoice that
        # cannot be sent never makes the runner loop.
        remaining = self.sudo().search_count(
            [*self._get_subscription_send_domain(), ("id", "not in", moves.ids)]
        )
        self.env["ir.cron"]._notify_progress(done=len(moves), remaining=remaining)
        return remaining
