import { registry } from "@web/core/registry";

// A Subscriptions manager opens the dashboard, reads the MRR and opens the
// movements behind it, then a month's new MRR and a cohort.
registry.category("web_tour.tours").add("subscription_dashboard_tour", {
    url: "/odoo/action-subscription_billing.subscription_dashboard_action",
    steps: () => [
        {
            content: "The MRR card shows the running contract's MRR",
            trigger: ".o_sd_card_mrr:contains('250')",
        },
        {
            content: "The chart is drawn",
            trigger: ".o_subscription_dashboard canvas",
        },
        {
            content: "The cohort of the contract's start month is listed",
            trigger: ".o_sd_cohort_table td:contains('100.0 %')",
        },
        {
            content: "Open the records behind the MRR",
            trigger: ".o_sd_card_mrr",
            run: "click",
        },
        {
            content: "They are the MRR movements of the contract",
            trigger: ".o_list_view .o_data_row:contains('Dashboard Customer')",
        },
        {
            content: "Their total is the MRR",
            trigger: ".o_list_view tfoot:contains('250')",
        },
        {
            content: "Back to the dashboard",
            trigger: ".o_breadcrumb .o_back_button, .o_breadcrumb li:first-child a",
            run: "click",
        },
        {
            content: "Open the month's new MRR",
            trigger: ".o_sd_movement_new",
            run: "click",
        },
        {
            content: "The new contract's movement is listed",
            trigger: ".o_list_view .o_data_row:contains('New')",
        },
    ],
});
