from odoo import models


class BaseImport(models.TransientModel):
    _inherit = "base_import.import"

    def execute_import(self, fields, columns, options, dryrun=False):
        # Tell the imported models that this is the import's Test: they then
        # preview what the import would do (the first billing run...).
        return super(
            BaseImport, self.with_context(subscription_import_dryrun=dryrun)
        ).execute_import(fields, columns, options, dryrun=dryrun)
