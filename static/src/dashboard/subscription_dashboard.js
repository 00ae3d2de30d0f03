import { Component, onWillStart, onWillUnmount, useEffect, useRef, useState } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatFloat, formatMonetary } from "@web/views/fields/formatters";

const { DateTime } = luxon;

const COLORS = {
    mrr: "#017e84",
    new: "#28a745",
    expansion: "#5cb85c",
    reactivation: "#17a2b8",
    contraction: "#f0ad4e",
    churn: "#d9534f",
    total: "#714b67",
};

/**
 * Subscriptions > Reporting > Dashboard: the recurring business at a glance.
 * Every figure comes from subscription.dashboard (computed set-based on the
 * server) and opens the records it adds up.
 */
export class SubscriptionDashboard extends Component {
    static template = "subscription_billing.SubscriptionDashboard";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.mrrCanvas = useRef("mrrChart");
        this.waterfallCanvas = useRef("waterfallChart");
        this.charts = [];
        this.state = useState({ data: null, cohorts: null, month: null, cohortMrr: false });
        onWillStart(async () => {
            await loadBundle("web.chartjs_lib");
            await this.load();
        });
        useEffect(
            () => {
                this.renderCharts();
            },
            () => [this.state.data]
        );
        onWillUnmount(() => this.destroyCharts());
    }

    async load(month = null) {
        const [data, cohorts] = await Promise.all([
            this.orm.call("subscription.dashboard", "get_dashboard_data", [month]),
            this.orm.call("subscription.dashboard", "get_cohort_data", [month]),
        ]);
        this.state.month = data.month;
        this.state.cohorts = cohorts;
        this.state.data = data;
    }

    get monthLabel() {
        return DateTime.fromISO(this.state.month).toFormat("MMMM yyyy");
    }

    shiftMonth(months) {
        const month = DateTime.fromISO(this.state.month).plus({ months }).toISODate();
        return this.load(month);
    }

    money(value) {
        return formatMonetary(value, { currencyId: this.state.data.currency.id, digits: [16, 0] });
    }

    percent(value) {
        return `${formatFloat(value, { digits: [16, 1] })} %`;
    }

    number(value, digits = 0) {
        return formatFloat(value, { digits: [16, digits] });
    }

    get cards() {
        const f = this.state.data.figures;
        return [
            { key: "mrr", label: this.state.data.labels.mrr, value: this.money(f.mrr) },
            { key: "arr", label: _t("ARR"), value: this.money(f.arr) },
            {
                key: "net_change",
                label: _t("Net MRR change"),
                value: this.money(f.net_change),
                tone: f.net_change < 0 ? "danger" : "success",
            },
            { key: "arpa", label: _t("ARPA"), value: this.money(f.arpa), hint: _t("per paying customer") },
            {
                key: "logo_churn",
                label: _t("Logo churn"),
                value: this.percent(f.logo_churn),
                hint: _t("%(lost)s of %(total)s customers", {
                    lost: f.churned_customers,
                    total: f.customers_before,
                }),
            },
            { key: "revenue_churn", label: _t("Revenue churn"), value: this.percent(f.revenue_churn) },
            { key: "nrr", label: _t("Net revenue retention"), value: this.percent(f.nrr), hint: _t("over 12 months") },
            { key: "grr", label: _t("Gross revenue retention"), value: this.percent(f.grr), hint: _t("over 12 months") },
            { key: "running", label: _t("Running contracts"), value: this.number(f.running) },
            { key: "suspended", label: _t("Suspended contracts"), value: this.number(f.suspended) },
            {
                key: "ending",
                label: _t("Ending contracts"),
                value: this.number(f.ending),
                hint: _t("within 3 months"),
            },
            {
                key: "overdue",
                label: _t("Overdue amount"),
                value: this.money(f.overdue),
                tone: f.overdue ? "danger" : "",
            },
            {
                key: "dso",
                label: _t("DSO"),
                value: _t("%(days)s days", { days: this.number(f.dso) }),
                hint: _t("open: %(amount)s", { amount: this.money(f.receivable) }),
            },
        ];
    }

    get movements() {
        const { figures, labels } = this.state.data;
        return ["new", "expansion", "reactivation", "contraction", "churn"].map((key) => ({
            key,
            label: labels[key],
            value: figures[key],
        }));
    }

    get cohortFloor() {
        // The lowest rate of the table is the palest colour, 100 % the darkest.
        const key = this.state.cohortMrr ? "mrr_rate" : "contract_rate";
        const rates = this.state.cohorts.rows.flatMap((row) =>
            Object.values(row.cells).map((cell) => cell[key])
        );
        return Math.min(100, ...rates);
    }

    cohortStyle(rate, floor) {
        if (rate === null || rate === undefined) {
            return "";
        }
        const share = floor < 100 ? (rate - floor) / (100 - floor) : 1;
        const alpha = 0.1 + 0.8 * Math.max(0, Math.min(share, 1));
        const color = alpha > 0.55 ? "#fff" : "inherit";
        return `background-color: rgba(1, 126, 132, ${alpha.toFixed(2)}); color: ${color};`;
    }

    async open(figure, month = null) {
        const action = await this.orm.call("subscription.dashboard", "get_figure_action", [
            figure,
            month || this.state.month,
        ]);
        return this.action.doAction(action);
    }

    async openCohort(cohort) {
        const action = await this.orm.call("subscription.dashboard", "get_cohort_action", [
            cohort,
        ]);
        return this.action.doAction(action);
    }

    destroyCharts() {
        for (const chart of this.charts) {
            chart.destroy();
        }
        this.charts = [];
    }

    renderCharts() {
        this.destroyCharts();
        if (!this.state.data || !this.mrrCanvas.el) {
            return;
        }
        const series = this.state.data.series;
        const labels = series.map((s) => DateTime.fromISO(s.month).toFormat("MMM yy"));
        const money = (value) => this.money(value);
        const amount = (value) => this.number(value);
        this.charts.push(
            new Chart(this.mrrCanvas.el, {
                type: "bar",
                data: {
                    labels,
                    datasets: [
                        {
                            label: this.state.data.labels.mrr,
                            data: series.map((s) => s.mrr),
                            backgroundColor: COLORS.mrr,
                        },
                    ],
                },
                options: {
                    maintainAspectRatio: false,
                    animation: false,
                    scales: { y: { ticks: { callback: amount } } },
                    plugins: {
                        legend: { display: false },
                        tooltip: { callbacks: { label: (ctx) => money(ctx.parsed.y) } },
                    },
                    onClick: (event, elements) => {
                        if (elements.length) {
                            this.open("mrr", series[elements[0].index].month);
                        }
                    },
                },
            })
        );
        // Waterfall: MRR at the end of last month, each movement as a
        // floating bar, MRR at the end of this month.
        const previous = series[series.length - 2].mrr;
        const steps = [];
        let level = previous;
        for (const move of this.movements) {
            steps.push({ ...move, range: [level, level + move.value] });
            level += move.value;
        }
        const bars = [
            { key: "mrr_start", label: _t("Last month"), range: [0, previous], color: COLORS.total },
            ...steps.map((s) => ({ ...s, color: COLORS[s.key] })),
            { key: "mrr", label: _t("This month"), range: [0, level], color: COLORS.total },
        ];
        // Start the axis just below the lowest level reached, so that the
        // month's movements show next to the whole MRR.
        const levels = steps.flatMap((s) => s.range).concat([previous, level]);
        const low = Math.min(...levels);
        const high = Math.max(...levels);
        const margin = Math.max((high - low) * 1.5, high * 0.002);
        const unit = 10 ** Math.floor(Math.log10(margin || 1));
        const floor = Math.max(0, Math.floor((low - margin) / unit) * unit);
        this.charts.push(
            new Chart(this.waterfallCanvas.el, {
                type: "bar",
                data: {
                    labels: bars.map((b) => b.label),
                    datasets: [
                        {
                            label: _t("MRR movements"),
                            data: bars.map((b) => b.range),
                            backgroundColor: bars.map((b) => b.color),
                        },
                    ],
                },
                options: {
                    maintainAspectRatio: false,
                    animation: false,
                    scales: { y: { min: Math.floor(floor), ticks: { callback: amount } } },
                    plugins: {
                        legend: { display: false },
                        tooltip: {
                            callbacks: {
                                label: (ctx) => {
                                    const [a, b] = ctx.raw;
                                    return money(b - a);
                                },
                            },
                        },
                    },
                    onClick: (event, elements) => {
                        if (elements.length) {
                            const bar = bars[elements[0].index];
                            const previousMonth = series[series.length - 2].month;
                            if (bar.key === "mrr_start") {
                                this.open("mrr", previousMonth);
                            } else {
                                this.open(bar.key);
                            }
                        }
                    },
                },
            })
        );
    }
}

registry.category("actions").add("subscription_billing.dashboard", SubscriptionDashboard);
