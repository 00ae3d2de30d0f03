import functools
import logging
import subprocess
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from odoo import _, api, models
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL, config

from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

_logger = logging.getLogger(__name__)

# Sizes of the chunks whose PDFs are rendered ahead: a small first one, so that
# sending starts early, then larger ones (each wkhtmltopdf call has a fixed
# cost: start, assets, the report's JavaScript delay).
PRERENDER_CHUNKS = (10, 20)
PRERENDER_CHUNK = 30
# Renderers at once: one wkhtmltopdf works while the other loads.
PRERENDER_THREADS = 2
# Longest wait for the PDFs of one chunk rendered ahead (seconds): past it, the
# chunk is rendered again by the sending itself, before locking its invoices.
PRERENDER_WAIT = 180
# A rendering cursor never waits long for a row lock (rendering writes nothing
# it needs: a wait is a bug, the chunk is then rendered again).
RENDER_LOCK_TIMEOUT = "5s"


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
        savepoint, so that one bad invoice does not hold back the others.
        With PDFs rendered beforehand (``subscription_prerendered``), the batch
        is sent at once: only the missing PDFs are rendered here."""
        if (
            self.env.context.get("subscription_prerendered") is not None
            or self._subscription_render_in_batch()
        ):
            chunks = [moves]
        else:
            chunks = list(moves)
        sent = moves.browse()
        for chunk in chunks:
            sent |= self._subscription_send_chunk_or_each(chunk, template)
        return sent

    @api.model
    def _subscription_send_chunk_or_each(self, chunk, template):
        try:
            with self.env.cr.savepoint():
                return self._subscription_send_chunk(chunk, template)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            # Not the invoice's fault: the caller retries the transaction.
            raise
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
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                raise
            except Exception as error:  # pylint: disable=broad-except
                move._subscription_send_failed(error)
        return sent

    # === PDFS RENDERED AHEAD === #

    @api.model
    def _subscription_can_prerender(self):
        """Whether PDFs may be rendered by wkhtmltopdf in other threads with
        their own database cursors, before the invoices are locked to be sent:
        only by the sending cron (its invoices were posted and committed by
        earlier transactions, which a new cursor sees), never when reports
        render as HTML (tests)."""
        return bool(
            self.env.context.get("subscription_prerender")
            and not config["test_enable"]
            and not self.env.registry.in_test_mode()
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
        if not missing:
            return None
        if self._subscription_render_in_batch():
            return super()._prepare_invoice_pdf_report(missing)
        for invoice, invoice_data in missing.items():
            super()._prepare_invoice_pdf_report({invoice: invoice_data})
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
        # Nor is sending a manual change of the invoice (is_manually_modified).
        moves = moves.with_context(
            skip_invoice_sync=True,
            check_move_validity=False,
            skip_is_manually_modified=True,
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
    """Render the PDFs of the invoices to send, chunk by chunk, in threads with
    cursors of their own (on committed data), while the sending emails the
    previous chunks: wkhtmltopdf works on one core while Python sends on the
    other. No rendering cursor holds or waits for a lock: its writes (a report
    may write on the invoice or its customer) are rolled back, and any row lock
    it meets makes it give up at once (``RENDER_LOCK_TIMEOUT``); the chunk is
    then rendered again by the sending (``render_now``) before it locks the
    invoices. Without the patched wkhtmltopdf, each invoice is one call."""

    def __init__(self, sender, moves, threads=True):
        self.registry = sender.env.registry
        self.uid = sender.env.uid
        self.context = {
            key: value
            for key, value in sender.env.context.items()
            if not key.startswith("subscription_")
        }
        self.batch = sender._subscription_render_in_batch()
        self.chunks = self._split(moves)
        self.rendered = 0
        self.calls = 0
        # The report the sending will ask for (see _prepare_invoice_pdf_report).
        sender = sender.with_context(subscription_pdf_reports={})
        reports = {move.id: sender._get_default_pdf_report_id(move) for move in moves}
        self.jobs = {}
        for chunk in self.chunks:
            jobs = {}
            for move in chunk:
                key = (reports[move.id].id, move.company_id.id)
                jobs.setdefault(key, (reports[move.id].report_name, []))[1].append(
                    move.id
                )
            self.jobs[chunk] = jobs
        self.executor = None
        self.futures = {}
        if threads:
            self.executor = ThreadPoolExecutor(
                max_workers=PRERENDER_THREADS, thread_name_prefix="invoice_pdf"
            )
            for chunk in self.chunks:
                self.futures[chunk] = self.executor.submit(
                    self._render, self.jobs[chunk]
                )

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
        """{(report id, invoice id): PDF} of one chunk, in a cursor of its own
        that gives up on any lock and whose writes are rolled back."""
        result = {}
        with self.registry.cursor() as cr:
            cr.execute(SQL("SET LOCAL lock_timeout = %s", RENDER_LOCK_TIMEOUT))
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
                for call_ids in [ids] if self.batch else [[i] for i in ids]:
                    self.calls += 1
                    content, report_type = report._pre_render_qweb_pdf(
                        report_name, res_ids=call_ids
                    )
                    for move_id, pdf in report._get_splitted_report(
                        report_name, content, report_type
                    ).items():
                        result[report_id, move_id] = pdf
            env.flush_all()
            cr.rollback()
        return result

    def result(self, chunk):
        """The PDFs of ``chunk`` rendered ahead (waiting for them at most
        ``PRERENDER_WAIT`` seconds), else rendered now in this thread, in a
        cursor of its own: call it while this transaction holds no lock."""
        pdfs = None
        future = self.futures.get(chunk)
        if future:
            try:
                pdfs = future.result(timeout=PRERENDER_WAIT)
            except FutureTimeout:
                _logger.warning(
                    "Rendering %s invoices ahead took over %s s: rendered again",
                    len(chunk),
                    PRERENDER_WAIT,
                )
            except Exception as error:  # pylint: disable=broad-except
                _logger.info(
                    "Rendering %s invoices ahead failed: %s", len(chunk), error
                )
        if pdfs is None:
            pdfs = self.render_now(chunk)
        self.rendered += len(pdfs)
        return pdfs

    def render_now(self, chunk):
        try:
            return self._render(self.jobs[chunk])
        except Exception as error:  # pylint: disable=broad-except
            # Rendered by the sending itself, invoice by invoice on failure.
            _logger.info("Rendering %s invoices failed: %s", len(chunk), error)
            return {}

    def close(self):
        if self.executor:
            # A thread still rendering holds no lock: it is not waited for.
            self.executor.shutdown(wait=False, cancel_futures=True)
        _logger.info(
            "PDFs of %s invoices rendered ahead, in %s chunks (%s renderings)",
            self.rendered,
            len(self.chunks),
            self.calls,
        )
