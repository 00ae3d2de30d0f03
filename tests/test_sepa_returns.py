import base64
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from ..lib import sepa_return
from .common import SepaCommon


@tagged("post_install", "-at_install")
class TestSepaReturns(SepaCommon):
    """Bank return files (pain.002, camt.054) recorded as the wizard does."""

    def setUp(self):
        super().setUp()
        __, __, self.moves, self.batch = self._bill_and_batch()
        self.batch.action_generate()
        self.batch.action_mark_sent()
        self.line = self.batch.line_ids.filtered(
            lambda line: line.mandate_id == self.mandate
        )
        self.other_line = self.batch.line_ids - self.line

    def _import(self, content, filename="returns.xml"):
        # Every file the tests build is valid against its official XSD.
        sepa_return.validate(content)
        wizard = self.env["subscription.sepa.return.import"].create(
            {"data_file": base64.b64encode(content), "filename": filename}
        )
        action = wizard.action_import()
        return self.env["subscription.sepa.return"].browse(action["res_id"])

    def _pain002(self, rejects, message_id="STS-1"):
        return sepa_return.build_pain002(
            message_id, self.batch.message_identifier, rejects
        )

    def test_pain002_reject_is_recorded_and_unknown_ids_listed(self):
        self.batch.action_done()
        content = self._pain002(
            [
                {
                    "end_to_end_id": self.line.end_to_end_id,
                    "code": "AM04",
                    "amount": 240,
                },
                {"end_to_end_id": "NOT-OURS-1", "code": "AC04", "amount": 10},
            ]
        )
        record = self._import(content, "pain002.xml")
        self.assertEqual(record.version, "pain.002.001.03")
        self.assertEqual((record.applied_count, record.unmatched_count), (1, 1))
        self.assertEqual(
            record.line_ids.filtered(lambda r: r.state == "unknown").end_to_end_id,
            "NOT-OURS-1",
        )
        self.assertEqual(self.line.state, "rejected")
        self.assertEqual(self.line.rejection_code, "AM04")
        self.assertEqual(self.line.move_id.payment_state, "not_paid")
        self.assertTrue(self.line.move_id.sepa_rejected)
        self.assertFalse(self.line.move_id.payment_collection_pending)
        self.assertEqual(self.line.payment_id.state, "rejected")
        self.assertEqual(self.other_line.state, "collected")
        self.assertEqual(self.mandate.state, "active")
        self.assertIn(
            "Direct debit rejected",
            self.line.move_id.subscription_contract_id.activity_ids.mapped("summary"),
        )

    def test_camt054_md01_return_revokes_the_mandate(self):
        for version in ("camt.054.001.02", "camt.054.001.08"):
            with self.subTest(version=version):
                line = self.line if version.endswith("02") else self.other_line
                content = sepa_return.build_camt054(
                    f"NTF-{version}",
                    "FR7630006000011234567890189",
                    [
                        {
                            "end_to_end_id": line.end_to_end_id,
                            "code": "MD01",
                            "amount": 240,
                        }
                    ],
                    version=version,
                )
                record = self._import(content, f"{version}.xml")
                self.assertEqual(record.version, version)
                self.assertEqual(record.line_ids.state, "applied")
                self.assertEqual(line.state, "rejected")
                self.assertEqual(line.rejection_code, "MD01")
                self.assertEqual(line.mandate_id.state, "revoked")

    def test_same_file_twice_changes_nothing(self):
        content = self._pain002(
            [{"end_to_end_id": self.line.end_to_end_id, "code": "AM04", "amount": 240}]
        )
        self._import(content)
        messages = self.line.move_id.message_ids
        with self.assertRaisesRegex(UserError, "already imported"):
            self._import(content)
        self.assertEqual(self.env["subscription.sepa.return"].search_count([]), 1)
        # Another file reporting the same return: listed, nothing recorded again.
        again = self._import(
            sepa_return.build_camt054(
                "NTF-2",
                "FR7630006000011234567890189",
                [
                    {
                        "end_to_end_id": self.line.end_to_end_id,
                        "code": "AM04",
                        "amount": 240,
                    }
                ],
            )
        )
        self.assertEqual(again.line_ids.state, "already")
        self.assertEqual(self.line.move_id.message_ids, messages)

    def test_nothing_half_applied(self):
        content = self._pain002(
            [
                {
                    "end_to_end_id": self.line.end_to_end_id,
                    "code": "AM04",
                    "amount": 240,
                },
                {
                    "end_to_end_id": self.other_line.end_to_end_id,
                    "code": "AC04",
                    "amount": 240,
                },
            ]
        )
        line_class = self.registry["subscription.sepa.batch.line"]
        original = line_class._reject
        calls = []

        def reject_then_fail(lines, code, note=False, **kwargs):
            calls.append(code)
            original(lines, code, note, **kwargs)
            if len(calls) == 2:
                raise RuntimeError("server crash in the middle of the file")

        with (
            patch.object(line_class, "_reject", reject_then_fail),
            self.assertRaises(RuntimeError),
        ):
            self._import(content)
        self.assertEqual(calls, ["AM04", "AC04"])
        self.assertEqual(
            (self.line | self.other_line).mapped("state"), ["to_collect"] * 2
        )
        self.assertFalse(self.line.move_id.sepa_rejected)
        self.assertFalse(self.env["subscription.sepa.return"].search([]))
        # Imported again once the server is back: all recorded.
        record = self._import(content)
        self.assertEqual(record.applied_count, 2)

    def test_other_amount_and_unsent_collection_are_not_recorded(self):
        content = self._pain002(
            [{"end_to_end_id": self.line.end_to_end_id, "code": "AM04", "amount": 99}]
        )
        record = self._import(content)
        self.assertEqual(record.line_ids.state, "mismatch")
        self.assertEqual(self.line.state, "to_collect")

    def test_invalid_file_is_refused(self):
        content = self._pain002(
            [{"end_to_end_id": self.line.end_to_end_id, "code": "AM04", "amount": 240}]
        ).replace(b"<TxSts>RJCT</TxSts>", b"<TxSts>NOPE</TxSts>")
        wizard = self.env["subscription.sepa.return.import"].create(
            {"data_file": base64.b64encode(content), "filename": "bad.xml"}
        )
        with self.assertRaisesRegex(UserError, "does not validate"):
            wizard.action_import()
        with self.assertRaisesRegex(UserError, "unsupported file type"):
            self.env["subscription.sepa.return"]._import_file(
                self.batch.file_id.raw, "our own pain.008"
            )
        self.assertEqual(self.line.state, "to_collect")

    def test_whole_file_rejected_rejects_each_of_its_debits(self):
        content = sepa_return.build_pain002(
            "STS-FILE", self.batch.message_identifier, [], file_code="FF01"
        )
        record = self._import(content)
        self.assertEqual(record.applied_count, 2)
        self.assertEqual(
            sorted(record.line_ids.mapped("end_to_end_id")),
            sorted(self.batch.line_ids.mapped("end_to_end_id")),
        )
        self.assertEqual(set(self.batch.line_ids.mapped("state")), {"rejected"})
        self.assertEqual(set(self.batch.line_ids.mapped("rejection_code")), {"FF01"})
        self.assertTrue(all(self.moves.mapped("sepa_rejected")))
        # A file of another creditor is listed, not recorded.
        other = self._import(
            sepa_return.build_pain002("STS-X", "NOT-OUR-FILE", [], file_code="FF01")
        )
        self.assertEqual(other.line_ids.state, "unknown")


@tagged("post_install", "-at_install")
class TestSepaRejections(SepaCommon):
    """Rejected debits recorded by hand with the rejection wizard."""

    def test_rejection_reopens_the_invoice_and_back_to_reminders(self):
        first, __, moves, batch = self._bill_and_batch()
        batch.action_generate()
        batch.action_mark_sent()
        batch.action_done()
        line = batch.line_ids.filtered(lambda line: line.mandate_id == self.mandate)
        wizard = Form(
            self.env["subscription.sepa.reject"].with_context(default_batch_id=batch.id)
        )
        wizard.line_ids.add(line)
        wizard.code = "AM04"
        wizard.save().action_reject()
        self.assertEqual(line.state, "rejected")
        self.assertEqual(line.move_id.payment_state, "not_paid")
        self.assertTrue(line.move_id.sepa_rejected)
        self.assertIn("Direct debit rejected", first.activity_ids.mapped("summary"))
        self.assertEqual(batch.amount_total, 240.0)
        self.assertEqual(self.mandate.state, "active")
        with freeze_time("2027-02-08"):
            due = self.env["account.move"].search(
                self.env["account.move"]._get_reminder_due_domain()
            )
        self.assertIn(line.move_id, due)

    def test_md01_revokes_the_mandate(self):
        __, __, __, batch = self._bill_and_batch()
        batch.action_generate()
        batch.action_mark_sent()
        line = batch.line_ids.filtered(lambda line: line.mandate_id == self.mandate)
        self.env["subscription.sepa.reject"].create(
            {"batch_id": batch.id, "line_ids": [Command.set(line.ids)], "code": "MD01"}
        ).action_reject()
        self.assertEqual(self.mandate.state, "revoked")
