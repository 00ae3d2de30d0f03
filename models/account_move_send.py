import functools
import logging
import subprocess

from odoo import _, api, models

from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

_logger = logging.getLogger(__name__)


@functools.cache
def wkhtmltopdf_is_patched():
    """Whether the wkhtmltopdf Odoo uses is built with patched Qt: only that
    build renders several invoices in one call (and prints header and footer)."""
    try:
        version = subprocess.run(
            [_get_wkhtmltopdf_bin(), "--version"],
            capture_output=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return b"patched qt" in version.lower()


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    # === HOOKS OF ACCOUNT === #

    @api.model
    def _hook_invoice_document_before_pdf_report_render(self, invoice, invoice_data):
        res = super()._hook_invoice_document_before_pdf_report_render(
            invoice, invoice_data
        )
        log = self.env.context.get("subscription_send_log")
        if (
            log is not None
            and invoice_data.get("error")
            and invoice_data.get("error_but_continue")
        ):
            # The e-invoice could not be built: send the invoice's own PDF all
            # the same (Odoo's fallback would email a "PROFORMA" PDF and leave
            # the invoice without its PDF) and tell the accountant what to fix.
            log["edi_errors"][invoice.id] = self._format_error_text(
                invoice_data.pop("error")
            )
            invoice_data.pop("error_but_continue")
        return res

    @api.model
    def _hook_if_errors(self, moves_data, allow_raising=True):
        log = self.env.context.get("subscription_send_log")
        if log is not None:
            for move, move_data in moves_data.items():
                log["errors"][move.id] = self._format_error_text(move_data["error"])
        return super()._hook_if_errors(moves_data, allow_raising=allow_raising)

    @api.model
    def _send_mail(self, move, mail_template, **kwargs):
        res = super()._send_mail(move, mail_template, **kwargs)
        log = self.env.context.get("subscription_send_log")
        if log is not None:
            log["sent"].add(move.id)
        return res

    # === SUBSCRIPTION SENDING === #

    @api.model
    def _subscription_render_in_batch(self):
        """Render the PDFs of several invoices in one wkhtmltopdf call, which only
        the patched build can do; otherwise one invoice at a time."""
        return wkhtmltopdf_is_patched()

    @api.model
    def _subscription_send_by_email(self, moves, template):
        """Email ``moves`` with ``template``; return those whose email is queued.
        A batch that fails is sent again invoice by invoice, each in its own
        savepoint, so that one bad invoice does not hold back the others."""
        if self._subscription_render_in_batch():
            chunks = [moves]
        else:
            chunks = list(moves)
        sent = moves.browse()
        for chunk in chunks:
            try:
                with self.env.cr.savepoint():
                    sent |= self._subscription_send_chunk(chunk, template)
                continue
            except Exception as error:  # pylint: disable=broad-except
                if len(chunk) == 1:
                    chunk._subscription_send_failed(error)
                    continue
                _logger.info(
                    "Sending %s invoices at once failed: %s", len(chunk), error
                )
            for move in chunk:
                try:
                    with self.env.cr.savepoint():
                        sent |= self._subscription_send_chunk(move, template)
                except Exception as error:  # pylint: disable=broad-except
                    move._subscription_send_failed(error)
        return sent

    @api.model
    def _subscription_send_chunk(self, moves, template):
        # Filled by the hooks above. "call" makes each log unequal to the others:
        # Odoo reuses an environment whose context is *equal*, which would hand
        # the hooks the log of an earlier call.
        log = {"call": object(), "sent": set(), "errors": {}, "edi_errors": {}}
        settings = {"sending_methods": ["email"]}
        if template:
            settings["mail_template"] = template
        # Queue the emails: the mail queue sends them, and retries them while
        # the mail server is down, so that nothing is lost.
        moves = moves.with_context(mail_notify_force_send=False)
        self.with_context(subscription_send_log=log)._generate_and_send_invoices(
            moves, allow_raising=False, **settings
        )
        sent = moves.filtered(lambda m: m.id in log["sent"])
        for move in moves - sent:
            move._subscription_send_failed(
                log["errors"].get(move.id) or _("the email was not queued")
            )
        edi_errors = {}
        for move in sent.filtered(lambda m: m.id in log["edi_errors"]):
            edi_errors.setdefault(log["edi_errors"][move.id], moves.browse())
            edi_errors[log["edi_errors"][move.id]] |= move
        if edi_errors:
            moves._subscription_edi_failed(edi_errors)
        return sent
