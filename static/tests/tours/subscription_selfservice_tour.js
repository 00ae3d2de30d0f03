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
    },
    fr: {
        end: "Résilier mon abonnement",
        refuse: "Refuser la reconduction",
        lastDay: "Dernier jour de votre abonnement",
        confirm: "Confirmer",
        ended: "Votre abonnement prend fin le",
        refused: "Votre refus de la reconduction est enregistré",
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

for (const [lang, labels] of Object.entries(LABELS)) {
    registry.category("web_tour.tours").add(`subscription_selfservice_end_${lang}`, {
        url: "/my/subscriptions",
        steps: () => endSteps(labels),
    });
    registry.category("web_tour.tours").add(`subscription_selfservice_refuse_${lang}`, {
        url: "/my/subscriptions",
        steps: () => refuseSteps(labels),
    });
}
