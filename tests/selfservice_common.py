import io
from pathlib import Path

from odoo.tools.translate import TranslationImporter


def load_french(env):
    """Install French with this module's fr.po as it is, also its entries
    that the .pot (regenerated on merge) does not list yet."""
    env["res.lang"]._activate_lang("fr_FR")
    po_path = Path(__file__).parent.parent / "i18n/fr.po"
    importer = TranslationImporter(env.cr, verbose=False)
    source = io.BytesIO(po_path.read_bytes())
    source.name = "fr.po (not merged with the .pot)"
    importer.load(source, "po", "fr_FR")
    importer.save(overwrite=True, force_overwrite=True)
