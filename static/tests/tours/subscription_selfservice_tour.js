import { registry } from "@web/core/registry";

// A consumer ends a subscription, or refuses its renewal, from the contract
// page: see what ends when, confirm, read the confirmation (L215-1-1). The
// same steps run in English and in French, with the labels of each language.
const LABELS = {
    en: {
        end: "End my subscription",
        refuse: "Refuse the renewal",
        lastDay: "Last day of your subscription",
        confirm: "Confirm",
        ended: "Your subscription ends on",
        refused: "Your refusal of the renewal is recorded",
        quantity: "Change quantities",
        seeAmounts: "See the amounts",
        confirmQuantity: "Confirm the new quantities",
        quantityDone: "The new quantities are recorded",
        transfer: "Pay by bank transfer",
        sign: "Sign the mandate",
        paymentDone: "Your new payment method is recorded",
    },
    fr: {
        end: "Résilier mon abonnement",
        refuse: "Refuser la reconduction",
        lastDay: "Dernier jour de votre abonnement",
        confirm: "Confirmer",
        ended: "Votre abonnement prend fin le",
        refused: "Votre refus de la reconduction est enregistré",
        quantity: "Modifier les quantités",
        seeAmounts: "Voir les montants",
        confirmQuantity: "Confirmer les nouvelles quantités",
        quantityDone: "Les nouvelles quantités sont enregistrées",
        transfer: "Payer par virement bancaire",
        sign: "Signer le mandat",
        paymentDone: "Votre nouveau moyen de paiement est enregistré",
    },
};

function endSteps(labels) {
    return [
        {
            content: "Open the subscription",
            trigger: "a.o_subscription_link",
            run: "click",
        },
        {
            content: "Step 1: end it from the contract page",
            trigger: `a.o_subscription_end:contains('${labels.end}')`,
            run: "click",
        },
        {
            content: "Step 2: the last day is shown before confirming",
            trigger: `.o_subscription_end_box:contains('${labels.lastDay}') .o_subscription_end_date`,
        },
        {
            content: "What happens to invoices and payments is listed",
            trigger: ".o_subscription_end_summary li",
        },
        {
            content: "Confirm",
            trigger: `button.o_subscription_end_confirm:contains('${labels.confirm}')`,
            run: "click",
        },
        {
            content: "Step 3: the confirmation, on the contract page",
            trigger: `.o_subscription_end_done:contains('${labels.ended}')`,
        },
        {
            content: "It can no longer be ended twice",
            trigger: ".o_portal_subscription_sidebar:not(:has(a.o_subscription_end))",
        },
    ];
}

function refuseSteps(labels) {
    return [
        {
            content: "Open the subscription",
            trigger: "a.o_subscription_link",
            run: "click",
        },
        {
            content: "Refuse the renewal from the contract page",
            trigger: `a.o_subscription_refuse_renewal:contains('${labels.refuse}')`,
            run: "click",
        },
        {
            content: "The last day is shown before confirming",
            trigger: `.o_subscription_end_box:contains('${labels.lastDay}') .o_subscription_end_date`,
        },
        {
            content: "Confirm",
            trigger: `button.o_subscription_refusal_confirm:contains('${labels.confirm}')`,
            run: "click",
        },
        {
            content: "The refusal is confirmed",
            trigger: `.o_subscription_refusal_done:contains('${labels.refused}')`,
        },
    ];
}

function quantitySteps(labels) {
    return [
        {
            content: "Open the subscription",
            trigger: "a.o_subscription_link",
            run: "click",
        },
        {
            content: "Change the quantities",
            trigger: `a.o_subscription_quantity:contains('${labels.quantity}')`,
            run: "click",
        },
        {
            content: "Three instead of one",
            trigger: "input.o_subscription_quantity_input",
            run: "edit 3",
        },
        {
            content: "See the amounts first",
            trigger: `button.o_subscription_quantity_preview:contains('${labels.seeAmounts}')`,
            run: "click",
        },
        {
            content: "The new amount per period is shown",
            trigger: ".o_subscription_quantity_box:contains('300')",
        },
        {
            content: "Confirm",
            trigger: `button.o_subscription_quantity_confirm:contains('${labels.confirmQuantity}')`,
            run: "click",
        },
        {
            content: "Recorded",
            trigger: `.o_subscription_quantity_done:contains('${labels.quantityDone}')`,
        },
    ];
}

function paymentSteps(labels) {
    return [
        {
            content: "Open the subscription",
            trigger: "a.o_subscription_link",
            run: "click",
        },
        {
            content: "Open the direct debit mandate form",
            trigger: ".o_subscription_payment_sepa summary",
            run: "click",
        },
        {
            content: "Enter the IBAN",
            trigger: "input[name='iban']",
            run: "edit FR76 3000 6000 0112 3456 7890 189",
        },
        {
            content: "Accept the mandate text",
            trigger: "input[name='accept']",
            run: "click",
        },
        {
            content: "Sign",
            trigger: `.o_subscription_payment_sepa button:contains('${labels.sign}')`,
            run: "click",
        },
        {
            content: "Recorded",
            trigger: `.o_subscription_payment_done:contains('${labels.paymentDone}')`,
        },
        {
            content: "Back to bank transfer",
            trigger: `.o_subscription_payment_transfer button:contains('${labels.transfer}')`,
            run: "click",
        },
        {
            content: "Recorded again: paid by transfer, no transfer button any more",
            trigger: ".o_subscription_payment_change:not(:has(.o_subscription_payment_transfer))",
        },
        {
            content: "With the confirmation",
            trigger: `.o_subscription_payment_done:contains('${labels.paymentDone}')`,
        },
    ];
}

for (const [lang, labels] of Object.entries(LABELS)) {
    registry.category("web_tour.tours").add(`subscription_selfservice_quantity_${lang}`, {
        url: "/my/subscriptions",
        steps: () => quantitySteps(labels),
    });
    registry.category("web_tour.tours").add(`subscription_selfservice_payment_${lang}`, {
        url: "/my/subscriptions",
        steps: () => paymentSteps(labels),
    });
    registry.category("web_tour.tours").add(`subscription_selfservice_end_${lang}`, {
        url: "/my/subscriptions",
        steps: () => endSteps(labels),
    });
    registry.category("web_tour.tours").add(`subscription_selfservice_refuse_${lang}`, {
        url: "/my/subscriptions",
        steps: () => refuseSteps(labels),
    });
}
