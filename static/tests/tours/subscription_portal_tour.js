import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("subscription_portal_tour", {
    url: "/my/subscriptions",
    steps: () => [
        {
            content: "Open the subscription",
            trigger: "a.o_subscription_link:contains('SUB/')",
            run: "click",
        },
        {
            content: "The subscription shows its invoices",
            trigger: "table.o_subscription_invoices td:contains('INV/')",
        },
        {
            content: "Pay an invoice",
            trigger: "a.o_subscription_pay",
            run: "click",
        },
        {
            content: "Start the payment",
            trigger: "a[data-bs-target='#pay_with']",
            run: "click",
        },
        {
            content: "The payment form is shown",
            trigger: ".modal #o_payment_form, .modal form[name='o_payment_checkout'], .modal .o_payment_form",
        },
    ],
});
