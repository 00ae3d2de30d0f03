import { registry } from "@web/core/registry";

// A consumer moves to a plan with a longer commitment: choose it, see the
// amounts and the commitment, be refused without ticking the box, accept it,
// confirm. The same steps in English and in French.
const LABELS = {
    en: {
        changePlan: "Change plan",
        seeAmounts: "See the amounts",
        commits: "This plan commits you until",
        confirm: "Confirm the new plan",
        tick: "Tick the box to accept the commitment",
        done: "Your new plan is recorded",
    },
    fr: {
        changePlan: "Changer de formule",
        seeAmounts: "Voir les montants",
        commits: "Cette formule vous engage jusqu'au",
        confirm: "Confirmer la nouvelle formule",
        tick: "Cochez la case pour accepter",
        done: "Votre nouvelle formule est enregistrée",
    },
};

function planSteps(labels) {
    return [
        {
            content: "Open the subscription",
            trigger: "a.o_subscription_link",
            run: "click",
        },
        {
            content: "Change the plan",
            trigger: `a.o_subscription_plan:contains('${labels.changePlan}')`,
            run: "click",
        },
        {
            content: "Choose the two-year plan",
            trigger: "input.o_subscription_plan_choice[data-plan='Pro 24']",
            run: "click",
        },
        {
            content: "See the amounts first",
            trigger: `button.o_subscription_plan_preview:contains('${labels.seeAmounts}')`,
            run: "click",
        },
        {
            content: "The new amount per period is shown",
            trigger: ".o_subscription_plan_box .o_subscription_plan_recurring:contains('250')",
        },
        {
            content: "So is the longer commitment",
            trigger: `.o_subscription_plan_commitment:contains('${labels.commits}')`,
        },
        {
            content: "Confirm without accepting it",
            trigger: `button.o_subscription_plan_confirm:contains('${labels.confirm}')`,
            run: "click",
        },
        {
            content: "Refused, with the reason",
            trigger: `.o_subscription_plan_error:contains('${labels.tick}')`,
        },
        {
            content: "Accept the commitment",
            trigger: "input.o_subscription_plan_accept",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: `button.o_subscription_plan_confirm:contains('${labels.confirm}')`,
            run: "click",
        },
        {
            content: "Recorded",
            trigger: `.o_subscription_plan_done:contains('${labels.done}')`,
        },
    ];
}

for (const [lang, labels] of Object.entries(LABELS)) {
    registry.category("web_tour.tours").add(`subscription_plan_change_${lang}`, {
        url: "/my/subscriptions",
        steps: () => planSteps(labels),
    });
}
