import functools
import logging
import subprocess
from concurrent.futures import ThreadPoolExecutor

from odoo import _, api, models
from odoo.tools import config

from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

_logger = logging.getLogger(__name__)

# Sizes of the chunks whose PDFs are rendered ahead: a small first one, so that
# sending starts early, then larger ones (each wkhtmltopdf call has a fixed
# cost: start, assets, the report's JavaScript delay).
PRERENDER_CHUNKS = (10, 20)
PRERENDER_CHUNK = 30
# Renderers at once: one wkhtmltopdf works while the other loads.
PRERENDER_THREADS = 2


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
    def _get_default_pdf_report_id(self, move):
        # Asked three times per invoice while sending, each time checking that
        # the default report still exists: ask once per customer's template,
        # company and type of invoice.
        cache = self.env.context.get("subscription_pdf_reports")
        if cache is None:
            return super()._get_default_pdf_report_id(move)
        key = (
            move.partner_id.with_company(
                move.company_id
            ).invoice_template_pdf_report_id,
            move.company_id,
            move.move_type,
        )
        if key not in cache:
            cache[key] = super()._get_default_pdf_report_id(move)
        return cache[key]

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
        prerenderer = None
        if not self._subscription_render_in_batch():
            chunks = list(moves)
        elif self._subscription_can_prerender(moves):
            prerenderer = InvoicePdfPrerenderer(self, moves)
            chunks = prerenderer.chunks
        else:
            chunks = [moves]
        sent = moves.browse()
        try:
            for chunk in chunks:
                sender = self
                if prerenderer:
                    sender = self.with_context(
                        subscription_prerendered=prerenderer.result(chunk)
                    )
                sent |= sender._subscription_send_chunk_or_each(chunk, template)
        finally:
            if prerenderer:
                prerenderer.close()
        return sent

    @api.model
    def _subscription_send_chunk_or_each(self, chunk, template):
        try:
            with self.env.cr.savepoint():
                return self._subscription_send_chunk(chunk, template)
        except Exception as error:  # pylint: disable=broad-except
            if len(chunk) == 1:
                chunk._subscription_send_failed(error)
                return chunk.browse()
            _logger.info("Sending %s invoices at once failed: %s", len(chunk), error)
        sent = chunk.browse()
        for move in chunk:
            try:
                with self.env.cr.savepoint():
                    sent |= self._subscription_send_chunk(move, template)
            except Exception as error:  # pylint: disable=broad-except
                move._subscription_send_failed(error)
        return sent

    # === PDFS RENDERED AHEAD === #

    @api.model
    def _subscription_can_prerender(self, moves):
        """Whether the PDFs of ``moves`` may be rendered ahead, in other threads
        with their own database cursors: only by the sending cron (its invoices
        were posted and committed by earlier transactions, which a new cursor
        sees), never in tests (their data is not committed), and only for
        more invoices than the first chunk."""
        return bool(
            self.env.context.get("subscription_prerender")
            and not config["test_enable"]
            and not self.env.registry.in_test_mode()
            and len(moves) > PRERENDER_CHUNKS[0]
        )

    @api.model
    def _prepare_invoice_pdf_report(self, invoices_data):
        # PDFs rendered ahead (same report, same invoice) are used as they are;
        # the e-invoice is embedded afterwards by account's hooks as usual.
        prerendered = self.env.context.get("subscription_prerendered")
        if not prerendered:
            return super()._prepare_invoice_pdf_report(invoices_data)
        missing = {}
        for invoice, invoice_data in invoices_data.items():
            content = prerendered.get((invoice_data["pdf_report"].id, invoice.id))
            if not content:
                missing[invoice] = invoice_data
                continue
            invoice_data["pdf_attachment_values"] = {
                "name": invoice._get_invoice_report_filename(),
                "raw": content,
                "mimetype": "application/pdf",
                "res_model": invoice._name,
                "res_id": invoice.id,
                "res_field": "invoice_pdf_report_file",
            }
        if missing:
            return super()._prepare_invoice_pdf_report(missing)
        return None

    @api.model
    def _subscription_send_chunk(self, moves, template):
        # Filled by the hooks above. "call" makes each log unequal to the others:
        # Odoo reuses an environment whose context is *equal*, which would hand
        # the hooks the log of an earlier call.
        log = {
            "call": object(),
            "sent": set(),
            "errors": {},
            "edi_errors": {},
        }
        settings = {"sending_methods": ["email"]}
        if template:
            settings["mail_template"] = template
        # Queue the emails: the mail queue sends them, and retries them while
        # the mail server is down, so that nothing is lost.
        moves = moves.with_context(mail_notify_force_send=False)
        # Sending only writes flags on posted invoices (sent, main attachment,
        # sending data), one write per invoice in account: their lines cannot
        # change, so skip the line synchronisation and balance check each of
        # those writes would redo.
        moves = moves.with_context(
            skip_invoice_sync=True,
            check_move_validity=False,
            subscription_send_log=log,
        )
        read_for_rendering(moves, "tax_ids", "tax_tag_ids")
        self.with_context(
            subscription_send_log=log, subscription_pdf_reports={}
        )._generate_and_send_invoices(moves, allow_raising=False, **settings)
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


def read_for_rendering(moves, *line_fields):
    """Read these fields of all the invoices' lines at once: the PDF and the
    e-invoice read them invoice by invoice, a query each otherwise."""
    for name in line_fields:
        moves.line_ids.mapped(name)


class InvoicePdfPrerenderer:
    """Render the PDFs of the next chunks of invoices while the previous ones
    are sent: each chunk in a thread with its own cursor (on committed data),
    so that wkhtmltopdf works on one core while Python sends on the other.
    A chunk that fails to render here is rendered again by the sending itself."""

    def __init__(self, sender, moves):
        self.registry = sender.env.registry
        self.uid = sender.env.uid
        self.context = {
            key: value
            for key, value in sender.env.context.items()
            if not key.startswith("subscription_")
        }
        self.chunks = self._split(moves)
        self.rendered = 0
        # The report the sending will ask for (see _prepare_invoice_pdf_report).
        sender = sender.with_context(subscription_pdf_reports={})
        reports = {move.id: sender._get_default_pdf_report_id(move) for move in moves}
        self.executor = ThreadPoolExecutor(
            max_workers=PRERENDER_THREADS, thread_name_prefix="invoice_pdf"
        )
        self.futures = {}
        for chunk in self.chunks:
            jobs = {}
            for move in chunk:
                key = (reports[move.id].id, move.company_id.id)
                jobs.setdefault(key, (reports[move.id].report_name, []))[1].append(
                    move.id
                )
            self.futures[chunk] = self.executor.submit(self._render, jobs)

    @staticmethod
    def _split(moves):
        chunks = []
        start = 0
        sizes = iter(PRERENDER_CHUNKS)
        while start < len(moves):
            size = next(sizes, PRERENDER_CHUNK)
            chunks.append(moves[start : start + size])
            start += size
        return chunks

    def _render(self, jobs):
        """{(report id, invoice id): PDF} of one chunk, in this thread's cursor."""
        result = {}
        with self.registry.cursor() as cr:
            # Never wait for a lock of the sending, which waits for this PDF:
            # fail, and let the sending render the chunk itself.
            cr.execute("SET LOCAL lock_timeout = '10s'")
            env = api.Environment(
                cr, self.uid, {**self.context, "subscription_rendering_ahead": True}
            )
            ids = [move_id for __, move_ids in jobs.values() for move_id in move_ids]
            read_for_rendering(
                env["account.move"].browse(ids),
                "tax_ids",
                "tax_tag_ids",
                "matched_debit_ids",
                "matched_credit_ids",
            )
            for (report_id, company_id), (report_name, ids) in jobs.items():
                report = env["ir.actions.report"].with_company(company_id)
                content, report_type = report._pre_render_qweb_pdf(
                    report_name, res_ids=ids
                )
                for move_id, pdf in report._get_splitted_report(
                    report_name, content, report_type
                ).items():
                    result[report_id, move_id] = pdf
        return result

    def result(self, chunk):
        try:
            pdfs = self.futures[chunk].result()
        except Exception as error:  # pylint: disable=broad-except
            _logger.info("Rendering %s invoices ahead failed: %s", len(chunk), error)
            return {}
        self.rendered += len(pdfs)
        return pdfs

    def close(self):
        for future in self.futures.values():
            future.cancel()
        self.executor.shutdown(wait=True)
        _logger.info(
            "PDFs of %s invoices rendered ahead, in %s chunks",
            self.rendered,
            len(self.chunks),
        )
