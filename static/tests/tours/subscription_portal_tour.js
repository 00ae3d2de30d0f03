import { registry } from "@web/core/registry";

// A customer changes the card of a card subscription, then pays the open
// invoice of a transfer subscription online.
registry.category("web_tour.tours").add("subscription_portal_tour", {
    url: "/my/subscriptions",
    steps: () => [
        {
            content: "Open the subscription paid by card",
            trigger: "tr:contains('Monthly') a.o_subscription_link",
            run: "click",
        },
        {
            content: "The card that pays it is shown",
            trigger: ".o_subscription_current_card:contains('4242')",
        },
        {
            content: "Choose the other saved card",
            trigger: ".o_subscription_card_form label:contains('1111')",
            run: "click",
        },
        {
            content: "Use this card",
            trigger: ".o_subscription_card_form button[type='submit']",
            run: "click",
        },
        {
            content: "The new card pays the subscription",
            trigger: ".alert-success:contains('Your card will pay this subscription')",
        },
        {
            content: "The current card is the new one",
            trigger: ".o_subscription_current_card:contains('1111')",
        },
        {
            content: "Back to the subscriptions",
            trigger: ".o_portal_submenu a[href='/my/subscriptions']",
            run: "click",
        },
        {
            content: "Open the subscription paid by transfer",
            trigger: "tr:contains('Quarterly') a.o_subscription_link",
            run: "click",
        },
        {
            content: "The transfer details and QR code are shown",
            trigger: ".o_subscription_transfer:contains('IBAN')",
        },
        {
            content: "Pay its open invoice",
            trigger: "a.o_subscription_pay_next",
            run: "click",
        },
        {
            content: "Open the payment dialog",
            trigger: "a[data-bs-target='#pay_with']",
            run: "click",
        },
        {
            content: "Enter the card number (demo provider)",
            trigger: ".modal input[name='customer_input']",
            run: "edit 4242424242424242",
        },
        {
            content: "Confirm the payment",
            trigger: ".modal button[name='o_payment_submit_button']:not(:disabled)",
            run: "click",
        },
        {
            content: "The invoice is paid",
            trigger: ".o_portal_sidebar .badge:contains('Paid')",
            timeout: 20000,
        },
    ],
});
