from odoo import models
from odoo.osv import expression

# Columns looked up once for a whole import file rather than once per row:
# {model: {field: (comodel, fields a name may be matched on)}}, the fields those
# of the comodel's name search (a customer by its reference, VAT number, name
# or email).
PREFETCHED_COLUMNS = {
    "subscription.contract": {
        "partner_id": ("res.partner", ("ref", "vat", "complete_name", "email")),
        "mandate_id": ("subscription.sepa.mandate", ("name",)),
    },
    "subscription.sepa.mandate": {
        "partner_id": ("res.partner", ("ref", "vat", "complete_name", "email")),
    },
}


def prefetch_names(model, fields, data):
    """A cache of the import's name look-ups, filled for the columns of
    PREFETCHED_COLUMNS with one search per column: {(comodel, value): id}.
    A value that matches several records is left to the usual look-up, which
    warns about it."""
    cache = {}
    for index, path in enumerate(fields):
        spec = PREFETCHED_COLUMNS.get(model._name, {}).get(path)
        if not spec:
            continue
        comodel_name, names = spec
        values = {row[index] for row in data if index < len(row) and row[index]}
        if not values:
            continue
        comodel = model.env[comodel_name]
        domain = expression.OR([[(name, "in", list(values))] for name in names])
        matches = {}
        for record in comodel.search_fetch(domain, list(names)):
            for name in names:
                value = record[name]
                if value in values:
                    matches.setdefault(value, set()).add(record.id)
        for value, ids in matches.items():
            if len(ids) == 1:
                cache[(comodel_name, value)] = ids.pop()
    return cache


class IrFieldsConverter(models.AbstractModel):
    _inherit = "ir.fields.converter"

    def db_id_for(self, model, field, subfield, value):
        """During an import of contracts or mandates: a name is looked up once
        per file (or found in the prefetched columns), not once per row."""
        cache = self.env.context.get("subscription_import_names")
        if (
            cache is None
            or subfield is not None
            or not value
            or field.comodel_name in ("subscription.contract", model._name)
        ):
            return super().db_id_for(model, field, subfield, value)
        key = (field.comodel_name, value)
        if key not in cache:
            cache[key] = super().db_id_for(model, field, subfield, value)
        elif isinstance(cache[key], int):
            cache[key] = (cache[key], self.env._("name"), [])
        return cache[key]
