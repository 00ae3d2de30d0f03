#!/usr/bin/env python3
"""Write the import templates of the Contracts and SEPA Mandates lists
(static/xls/*.csv and *.xlsx, English and French headers), downloadable from
Odoo's import screen (get_import_templates). The headers are the fields' labels
so that the import screen maps every column by itself; the French ones are the
labels of i18n/fr.po, recognised when the user works in French.

Usage: python3 tools/make_import_templates.py   (needs openpyxl)
"""

import csv
from pathlib import Path

import openpyxl

OUT = Path(__file__).resolve().parent.parent / "static" / "xls"

# (English header, French header), then example rows as
# {lang: [values...]} where a value may be a (en, fr) pair.
CONTRACTS = [
    ("Customer", "Client"),
    ("Plan", "Formule"),
    ("Start Date", "Date de début"),
    ("Commitment End", "Fin d'engagement"),
    ("Billed Until", "Facturé jusqu'au"),
    ("Status", "Statut"),
    ("Payment Method", "Mode de paiement"),
    ("SEPA Mandate", "Mandat SEPA"),
    ("Customer Type", "Type de client"),
    ("Tacit Renewal", "Reconduction tacite"),
    ("Renewal Term", "Durée de renouvellement"),
    ("Renewal Unit", "Unité de renouvellement"),
    ("Customer Notice (days before end)", "Avis au client (jours avant la fin)"),
    ("Salesperson", "Vendeur"),
    ("Catch-up Confirmed", "Rattrapage confirmé"),
    ("Lines/Product", "Lignes/Produit"),
    ("Lines/Quantity", "Lignes/Quantité"),
    ("Lines/Unit Price", "Lignes/Prix unitaire"),
    ("Lines/Discount (%)", "Lignes/Remise (%)"),
]
ACTIVE = ("Active", "Actif")
TRANSFER = ("Bank transfer", "Virement bancaire")
SEPA = ("SEPA direct debit", "Prélèvement SEPA")
B2B = ("Business (B2B)", "Professionnel (B2B)")
B2C = ("Consumer (B2C)", "Consommateur (B2C)")
MONTHS = ("Month(s)", "Mois")
CONTRACT_ROWS = [
    # customer by reference (or VAT number, or name)
    [
        "C-0042",
        "Monthly",
        "2025-01-01",
        "",
        "2027-02-28",
        ACTIVE,
        TRANSFER,
        "",
        B2B,
        "",
        "",
        "",
        "",
        "Administrator",
        "",
        "Maintenance",
        2,
        45.5,
        10,
    ],
    # a second line of the same contract: the contract columns left empty
    [""] * 15 + ["Hosting", 1, 30, 0],
    [
        "FR23334175221",
        "Monthly",
        "2026-06-15",
        "2027-06-14",
        "2027-03-14",
        ACTIVE,
        SEPA,
        "OLD-TOOL-0002",
        B2B,
        "",
        "",
        "",
        "",
        "Administrator",
        "",
        "Hosting",
        3,
        30,
        0,
    ],
    [
        "Julie Petit",
        "Monthly",
        "2026-09-01",
        "2027-08-31",
        "2027-02-28",
        ACTIVE,
        TRANSFER,
        "",
        B2C,
        1,
        12,
        MONTHS,
        60,
        "Administrator",
        "",
        "Maintenance",
        1,
        100,
        0,
    ],
]
MANDATES = [
    ("Mandate Reference", "Référence unique de mandat (RUM)"),
    ("Debtor", "Débiteur"),
    ("Debtor IBAN", "IBAN du débiteur"),
    ("Debtor BIC", "BIC du débiteur"),
    ("Signature Date", "Date de signature"),
    ("Scheme", "Schéma"),
    ("State", "État"),
    ("Already Used", "Déjà utilisé"),
    ("Last Collection (Previous Tool)", "Dernier prélèvement (outil précédent)"),
]
MANDATE_ROWS = [
    [
        "OLD-TOOL-0002",
        "FR23334175221",
        "FR7630004000031234567890143",
        "BNPAFRPP",
        "2024-05-02",
        ("Business to business", "Interentreprises (B2B)"),
        ACTIVE,
        1,
        "2027-02-05",
    ],
    [
        "OLD-TOOL-0003",
        "Julie Petit",
        "DE89370400440532013000",
        "COBADEFFXXX",
        "2027-01-15",
        ("Core (consumers)", "Core (particuliers)"),
        ACTIVE,
        0,
        "",
    ],
]

INVOICES = [
    ("Partner", "Partenaire"),
    ("Subscription Contract", "Contrat d'abonnement"),
    ("invoice_date", "Date de facturation"),  # "Invoice/Bill Date" reads as a path
    ("Due Date", "Date d'échéance"),
    ("Payment Reference", "Référence du paiement"),
    ("Post on Import", "Comptabiliser à l'import"),
    ("Invoice lines/Label", "Lignes de facture/Libellé"),
    ("Invoice lines/Quantity", "Lignes de facture/Quantité"),
    ("Invoice lines/Unit Price", "Lignes de facture/Prix unitaire"),
]
INVOICE_ROWS = [
    [
        "C-0042",
        "SUB/2025/00001",
        "2027-02-01",
        "2027-03-03",
        "OLD-INV-2027-0131",
        1,
        ("Maintenance, February 2027", "Maintenance, février 2027"),
        2,
        40.95,
    ],
]


def localise(row, index):
    return [v[index] if isinstance(v, tuple) else v for v in row]


def write(name, columns, rows):
    for index, lang in enumerate(("en", "fr")):
        header = [column[index] for column in columns]
        body = [localise(row, index) for row in rows]
        with open(OUT / f"{name}_{lang}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(body)
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = name.replace("subscription_", "")[:31]
        sheet.append(header)
        for row in body:
            sheet.append(row)
        for cells in sheet.columns:
            width = max(len(str(c.value or "")) for c in cells)
            sheet.column_dimensions[cells[0].column_letter].width = min(width + 2, 40)
        sheet.freeze_panes = "A2"
        book.save(OUT / f"{name}_{lang}.xlsx")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    write("subscription_contracts", CONTRACTS, CONTRACT_ROWS)
    write("subscription_mandates", MANDATES, MANDATE_ROWS)
    write("subscription_open_invoices", INVOICES, INVOICE_ROWS)
    print("written in", OUT)
