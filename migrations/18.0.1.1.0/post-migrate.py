"""The renewal notice prints the refusal deadline in a visible frame
("encadré apparent", French Consumer Code L215-1) and its subject gives the
renewal date. The template is loaded with noupdate: rewrite it here, in
English and in the languages the module translates, where it exists."""

import logging
from pathlib import Path

from lxml import etree

from odoo import SUPERUSER_ID, api
from odoo.modules.module import get_module_path
from odoo.tools.translate import TranslationImporter

_logger = logging.getLogger(__name__)

XMLID = "subscription_billing.mail_template_renewal_notice"
FIELDS = ("subject", "body_html")


def _shipped_values(module_path):
    """Subject and body of the template as the data file ships them."""
    tree = etree.parse(str(Path(module_path) / "data/subscription_renewal_data.xml"))
    record = tree.find(".//record[@id='mail_template_renewal_notice']")
    values = {}
    for field in record.findall("field"):
        name = field.get("name")
        if name == "subject":
            values[name] = field.text
        elif name == "body_html":
            values[name] = (field.text or "") + "".join(
                etree.tostring(child, encoding="unicode") for child in field
            )
    return values


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    template = env.ref(XMLID, raise_if_not_found=False)
    if not template:
        return
    module_path = get_module_path("subscription_billing")
    values = _shipped_values(module_path)
    if set(values) != set(FIELDS):
        _logger.warning("Renewal notice: shipped template not found, left as is")
        return
    template.with_context(lang="en_US").write(values)
    for lang in env["res.lang"].get_installed():
        code = lang[0]
        po_path = Path(module_path) / "i18n" / f"{code.split('_')[0]}.po"
        if code == "en_US" or not po_path.exists():
            continue
        importer = TranslationImporter(cr, verbose=False)
        importer.load_file(str(po_path), code, xmlids=[XMLID])
        importer.save(overwrite=True, force_overwrite=True)
    _logger.info("Renewal notice template rewritten: deadline in a visible frame")
