import logging
import tempfile
import threading
import time
import uuid
from pathlib import Path

from odoo.tests import get_db_name, tagged
from odoo.tools import SQL, config

from . import test_billing_processes as processes
from .concurrency import CommittedCase
from .sending_server import (
    IbanCompany,
    LockWatch,
    OdooServer,
    PortalClient,
    Timings,
    create_transfer_contracts,
    json_rpc,
)

_logger = logging.getLogger(__name__)

CARD = "subscription_billing.ir_cron_subscription_card_charges"
PASSWORD = "Night-run-2027!"  # noqa: S105 -- test users of a throwaway server


@tagged("post_install", "-at_install")
class TestNightOnServer(CommittedCase):
    """The night's run on Odoo in multi-process mode, as in production: the
    billing, sending and card crons in the server's cron worker while portal
    customers browse (login, pages, an invoice PDF) and an accountant registers
    payments over JSON-RPC on invoices being sent, round after round."""

    ROUNDS = 2
    TRANSFER = 10  # contracts per round paying by transfer (SEPA QR code)
    PORTAL = 3  # of which customers with a portal login
    CARDS = 2  # contracts per round paying by card
    PAYMENTS = 3  # payments registered per round by the accountant

    _cleanup_billing = processes.TestBillingProcesses._cleanup

    def setUp(self):
        super().setUp()
        self.contract_ids = []
        self.record_ids = {"res.partner": [], "product.product": []}
        self.user_ids = []
        self.tmp = Path(tempfile.mkdtemp(prefix="i20_server_"))
        # Logins are unique, also among the archived users of earlier runs.
        self.run_id = uuid.uuid4().hex[:6]
        self.company = IbanCompany(self.registry)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            self.eur = self.company.set_up(env).id
            params = env["ir.config_parameter"]
            self.saved_params = {
                key: params.get_param(key) for key in ("report.url", "web.base.url")
            }
            provider = env["payment.provider"].search(
                [("code", "=", "demo"), ("company_id", "=", env.company.id)], limit=1
            )
            self.provider = (provider.id, provider.state)
            provider.state = "test"
            accountant = env["res.users"].create(
                {
                    "name": "Night accountant",
                    "login": f"night.accountant.{self.run_id}@example.com",
                    "password": PASSWORD,
                    "groups_id": [
                        (4, env.ref("account.group_account_invoice").id),
                        (4, env.ref("base.group_user").id),
                    ],
                }
            )
            self.user_ids.append(accountant.id)
            self.accountant = accountant.login
            # Only the night's scheduled actions run in the server's cron worker:
            # the others are held back a day meanwhile (then put back).
            night = (processes.BILLING, processes.SENDING, CARD)
            ours = [env.ref(xmlid).id for xmlid in night]
            cr.execute(
                SQL(
                    "SELECT id, nextcall FROM ir_cron WHERE active AND id NOT IN %s",
                    tuple(ours),
                )
            )
            self.held_crons = cr.fetchall()
            cr.execute(
                SQL(
                    "UPDATE ir_cron SET nextcall = now() + interval '1 day' "
                    "WHERE active AND id NOT IN %s",
                    tuple(ours),
                )
            )
        self.addCleanup(self._restore)
        self.addCleanup(self._cleanup_night)

    def _restore(self):
        with self.registry.cursor() as cr:
            for cron_id, nextcall in self.held_crons:
                cr.execute(
                    SQL(
                        "UPDATE ir_cron SET nextcall = %s WHERE id = %s",
                        nextcall,
                        cron_id,
                    )
                )
            env = self._env(cr)
            for key, value in self.saved_params.items():
                env["ir.config_parameter"].set_param(key, value or False)
            provider_id, state = self.provider
            env["payment.provider"].browse(provider_id).state = state
            env["res.users"].browse(self.user_ids).write({"active": False})
            self.company.tear_down(env)

    def _cleanup_night(self):
        """Payments, charges and the card tokens of these customers go first;
        then the invoices and contracts (TestBillingProcesses._cleanup)."""
        partners = tuple(self.record_ids["res.partner"]) or (0,)
        with self.registry.cursor() as cr:
            self._env(cr)["res.users"].browse(self.user_ids).write({"active": False})
            cr.execute(
                SQL(
                    """
                    DELETE FROM account_partial_reconcile p USING account_move_line l
                     WHERE l.partner_id IN %s
                       AND l.id IN (p.debit_move_id, p.credit_move_id)
                    """,
                    partners,
                )
            )
            cr.execute(
                SQL(
                    """
                    DELETE FROM account_move WHERE id IN (
                        SELECT move_id FROM account_payment WHERE partner_id IN %s)
                    """,
                    partners,
                )
            )
            cr.execute(
                SQL("DELETE FROM payment_transaction WHERE partner_id IN %s", partners)
            )
            cr.execute(
                SQL("DELETE FROM payment_token WHERE partner_id IN %s", partners)
            )
        self._cleanup_billing()

    # --- the data of one round ---------------------------------------------------

    def _create_round(self, number):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            today = env.company._subscription_today()
            eur = env["res.currency"].browse(self.eur)
            transfer, partners, product = create_transfer_contracts(
                env, self.TRANSFER, f"Night {self.run_id} {number}", eur, today
            )
            portal = env.ref("base.group_portal")
            users = env["res.users"].create(
                [
                    {
                        "name": partner.name,
                        "login": partner.email,
                        "password": PASSWORD,
                        "partner_id": partner.id,
                        "groups_id": [(6, 0, portal.ids)],
                    }
                    for partner in partners[: self.PORTAL]
                ]
            )
            self.user_ids += users.ids
            provider = env["payment.provider"].browse(self.provider[0])
            cards, card_partners, card_product = create_transfer_contracts(
                env, self.CARDS, f"Night card {self.run_id} {number}", eur, today
            )
            for contract in cards:
                token = env["payment.token"].create(
                    {
                        "provider_id": provider.id,
                        "payment_method_id": (
                            provider.payment_method_ids[:1]
                            or env.ref("payment.payment_method_unknown")
                        ).id,
                        "payment_details": "4242",
                        "partner_id": contract.partner_id.id,
                        "provider_ref": f"demo-night-{contract.id}",
                        "demo_simulated_state": "done",
                    }
                )
                contract.write({"payment_method": "card", "payment_token_id": token.id})
            self.contract_ids += (transfer | cards).ids
            self.record_ids["res.partner"] += (partners | card_partners).ids
            self.record_ids["product.product"] += (product | card_product).ids
            cr.execute(SQL("ANALYZE account_move, account_move_line, res_partner"))
            env.ref(processes.BILLING)._trigger()
            return transfer.ids, cards.ids, users.mapped("login")

    def _state(self, contract_ids):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            moves = env["account.move"].search(
                [("subscription_contract_id", "in", contract_ids)]
            )
            return moves.read(["subscription_to_send", "payment_state", "state"])

    # --- the accountant ----------------------------------------------------------

    def _accountant(self, url, contract_ids, timings, stop, paid):
        db = get_db_name()
        login = self.accountant
        uid = timings.timed(
            "rpc", lambda: json_rpc(url, "common", "login", db, login, PASSWORD)
        )
        if not uid:
            return

        def call(model, method, *args, **kwargs):
            return json_rpc(
                url,
                "object",
                "execute_kw",
                db,
                uid,
                PASSWORD,
                model,
                method,
                args,
                kwargs,
            )

        while not stop.is_set() and len(paid) < self.PAYMENTS:
            # An invoice being sent right now: posted, not sent yet.
            ids = timings.timed(
                "rpc",
                lambda: call(
                    "account.move",
                    "search",
                    [
                        ("subscription_contract_id", "in", contract_ids),
                        ("subscription_to_send", "=", True),
                        ("payment_state", "=", "not_paid"),
                        ("id", "not in", paid),
                    ],
                    limit=1,
                    order="id desc",
                ),
            )
            if not ids:
                stop.wait(0.2)
                continue
            context = {"active_model": "account.move", "active_ids": ids}
            wizard = timings.timed(
                "payment",
                lambda ids=ids, context=context: call(
                    "account.payment.register",
                    "action_create_payments",
                    call("account.payment.register", "create", {}, context=context),
                    context=context,
                ),
            )
            paid.extend(ids)
            if wizard is None:
                stop.wait(0.5)

    # --- the test ------------------------------------------------------------------

    def test_night_run_on_a_multi_process_server(self):
        options = [
            *self._odoo_args(),
            f"--data-dir={config['data_dir']}",
            "-d",
            get_db_name(),
            f"--db-filter=^{get_db_name()}$",
        ]
        server = OdooServer(options, str(self.tmp / "server.log"))
        with self.registry.cursor() as cr:
            # wkhtmltopdf (in the cron worker and in the HTTP workers) fetches the
            # report's assets from this server.
            params = self._env(cr)["ir.config_parameter"]
            params.set_param("report.url", server.url)
            params.set_param("web.base.url", server.url)
        server.start()
        self.addCleanup(server.stop)
        timings = Timings()
        figures = []
        with LockWatch(self.registry) as watch:
            for number in range(1, self.ROUNDS + 1):
                started = time.monotonic()
                transfer_ids, card_ids, logins = self._create_round(number)
                contract_ids = transfer_ids + card_ids
                stop = threading.Event()
                paid = []
                pdf_lock = threading.Lock()
                clients = [
                    PortalClient(server.url, login, PASSWORD, timings, stop, pdf_lock)
                    for login in logins
                ]
                clients.append(
                    threading.Thread(
                        target=self._accountant,
                        args=(server.url, transfer_ids, timings, stop, paid),
                        daemon=True,
                    )
                )
                for client in clients:
                    client.start()
                card_triggered = False
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    moves = self._state(contract_ids)
                    billed = len(moves) == len(contract_ids)
                    if billed and not card_triggered:
                        # The daily card charges, queued behind the sending.
                        with self.registry.cursor() as cr:
                            self._env(cr).ref(CARD)._trigger()
                        card_triggered = True
                    charged = self._state(card_ids)
                    if (
                        billed
                        and not any(m["subscription_to_send"] for m in moves)
                        and all(
                            m["payment_state"] in ("paid", "in_payment")
                            for m in charged
                        )
                    ):
                        break
                    time.sleep(1)
                seconds = time.monotonic() - started
                stop.set()
                for client in clients:
                    client.join(90)
                figures.append((number, round(seconds, 1), len(paid)))
                self._check_round(contract_ids, card_ids, server)
        log = server.log()
        server.stop()
        self.assertNotIn("deadlock detected", log)
        self.assertNotIn("could not serialize", log)
        # A worker drops a kept-alive connection left idle (wkhtmltopdf's, when
        # it fetched the report's assets) with an ERROR line: not a failure.
        errors = [
            line
            for line in log.splitlines()
            if (" ERROR " in line or " CRITICAL " in line)
            and "Request timed out" not in line
        ]
        self.assertFalse(errors, errors[:5])
        # The cron worker runs at nice 10 (Odoo lowers it): on a machine busy
        # with other jobs its transactions are slower; a wait over 15 s is a
        # lock held across something slow, not a slow CPU.
        slow = [wait for wait in watch.waits if wait[1] > 15]
        self.assertFalse(slow, "a session waited for a lock over 15 s")
        self.assertFalse(timings.failures, timings.failures[:5])
        longest = max(timings.all())
        self.assertLess(longest, 30, "a request waited for 30 s or more")
        _logger.info(
            "Night run on %s workers + cron worker: rounds (number, seconds, payments "
            "during sending) %s; requests %s, p95 portal %.2f s, login %.2f s, "
            "PDF %.2f s, payment %.2f s, longest %.2f s; longest lock wait %.1f s",
            2,
            figures,
            len(timings.all()),
            Timings.p95(timings.by_kind.get("portal", [])),
            Timings.p95(timings.by_kind.get("login", [])),
            Timings.p95(timings.by_kind.get("pdf", [])),
            Timings.p95(timings.by_kind.get("payment", [])),
            longest,
            watch.longest,
        )

    def _check_round(self, contract_ids, card_ids, server):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            moves = env["account.move"].search(
                [("subscription_contract_id", "in", contract_ids)]
            )
            self.assertEqual(len(moves), len(contract_ids), server.logfile)
            self.assertFalse(moves.filtered("subscription_to_send"), server.logfile)
            for move in moves:
                mails = env["mail.mail"].search(
                    [("model", "=", "account.move"), ("res_id", "=", move.id)]
                )
                messages = env["mail.message"].search(
                    [
                        ("model", "=", "account.move"),
                        ("res_id", "=", move.id),
                        ("message_type", "=", "comment"),
                        ("attachment_ids", "!=", False),
                    ]
                )
                self.assertEqual(len(messages), 1, move.name)
                self.assertLessEqual(len(mails), 1, move.name)
            cards = moves.filtered(lambda m: m.subscription_contract_id.id in card_ids)
            for move in cards:
                done = move.transaction_ids.filtered(lambda tx: tx.state == "done")
                self.assertEqual(len(done), 1, f"{move.name} charged once")
                self.assertIn(move.payment_state, ("paid", "in_payment"), move.name)
