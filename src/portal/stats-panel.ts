/// <reference lib="dom" />
// Delivery stats of the tenant or of one subscription: totals, success rate and median latency
// over time (charts.ts), for a window the user picks.
import {
  SubscriptionStatsDocument,
  TenantStatsDocument,
  type DeliveryStatsFieldsFragment,
  type StatsBucketFieldsFragment,
} from '@hooklane/sdk';
import { lineChart, niceCeiling, summarize, type ChartPoint } from './charts.js';
import type { ViewContext } from './context.js';
import { formatTime, h, replaceChildren, time } from './dom.js';

/** The windows the panel offers, with the bucket width that draws each in 60 to 288 points. */
const WINDOWS = [
  { value: '1h', label: 'Last hour', ms: 3_600_000, interval: '1m' },
  { value: '24h', label: 'Last 24 hours', ms: 86_400_000, interval: '5m' },
  { value: '7d', label: 'Last 7 days', ms: 7 * 86_400_000, interval: '1h' },
] as const;
type StatsWindow = (typeof WINDOWS)[number];

type Stats = DeliveryStatsFieldsFragment & { buckets: StatsBucketFieldsFragment[] };

export interface StatsPanelOptions {
  /** A subscription's stats; omitted: the whole tenant's. */
  subscriptionId?: string;
  /** The page the panel is on: its client, feedback and whether it is still shown. */
  view: Pick<ViewContext, 'client' | 'feedback' | 'isCurrent'>;
  /** The window shown first: `1h`, `24h` (default) or `7d`. */
  since?: StatsWindow['value'];
}

let nextPanelId = 0;

const percent = (value: number) => `${Math.round(value * 1000) / 10}%`;
const milliseconds = (value: number) => `${Math.round(value)} ms`;

function timeLabel(window: StatsWindow): (date: Date) => string {
  // Hours and minutes within the hour; month and day too over a day or more (its ends share a time of day).
  return window.ms >= 86_400_000 ? (date) => formatTime(date.toISOString()).slice(5, 16) : (date) => formatTime(date.toISOString()).slice(11, 16);
}

async function loadStats(options: StatsPanelOptions, window: StatsWindow): Promise<Stats | null> {
  const since = new Date(Date.now() - window.ms).toISOString();
  const { client } = options.view;
  if (options.subscriptionId) {
    const data = await client.request(SubscriptionStatsDocument, { id: options.subscriptionId, since, interval: window.interval });
    return data.subscription?.stats ?? null;
  }
  const data = await client.request(TenantStatsDocument, { since, interval: window.interval });
  return data.tenant?.stats ?? null;
}

function totals(stats: Stats): HTMLElement {
  const item = (label: string, value: Node | string, name: string) =>
    h('div', { class: 'stat', 'data-stat': name }, h('dt', {}, label), h('dd', {}, value));
  return h(
    'dl',
    { class: 'stats-totals' },
    item('Deliveries', String(stats.deliveries), 'deliveries'),
    item('Succeeded', String(stats.succeeded), 'succeeded'),
    item('Failed', String(stats.failed), 'failed'),
    item('Pending', String(stats.pending), 'pending'),
    item('Held', String(stats.held), 'held'),
    item('Success rate', stats.successRate === null ? '—' : percent(stats.successRate), 'success-rate'),
    item('Latency p50', stats.latencyP50Ms === null ? '—' : milliseconds(stats.latencyP50Ms), 'latency-p50'),
    item('Latency p95', stats.latencyP95Ms === null ? '—' : milliseconds(stats.latencyP95Ms), 'latency-p95'),
    item('Last success', time(stats.lastSuccessAt), 'last-success'),
    item('Last failure', time(stats.lastFailureAt), 'last-failure'),
  );
}

function chartFigure(name: string, title: string, points: ChartPoint[], window: StatsWindow, yMax: number, formatValue: (value: number) => string): HTMLElement {
  const formatTimeLabel = timeLabel(window);
  const summary = summarize(points, formatValue, formatTimeLabel);
  const to = new Date();
  const chart = lineChart({
    title: `${title}, ${window.label.toLowerCase()}`,
    description: summary,
    points,
    from: new Date(to.getTime() - window.ms),
    to,
    yMax,
    formatValue,
    formatTime: formatTimeLabel,
    seriesClass: `series-${name}`,
  });
  return h('figure', { class: 'stats-chart', 'data-chart': name }, h('figcaption', {}, title), chart, h('p', { class: 'chart-summary' }, summary));
}

function charts(stats: Stats, window: StatsWindow): HTMLElement {
  const rate: ChartPoint[] = stats.buckets.map((bucket) => ({
    start: new Date(bucket.start),
    value: bucket.succeeded + bucket.failed === 0 ? null : bucket.succeeded / (bucket.succeeded + bucket.failed),
  }));
  const latency: ChartPoint[] = stats.buckets.map((bucket) => ({ start: new Date(bucket.start), value: bucket.latencyP50Ms }));
  const slowest = Math.max(0, ...latency.map((point) => point.value ?? 0));
  return h(
    'div',
    { class: 'stats-charts' },
    chartFigure('success-rate', 'Success rate', rate, window, 1, percent),
    chartFigure('latency', 'Latency p50', latency, window, niceCeiling(slowest), milliseconds),
  );
}

/**
 * Renders the delivery stats of the tenant, or of `subscriptionId`, into `container`: totals, a
 * window selector (last hour, 24 hours, 7 days) and the success rate and median latency over time.
 * Resolves once the first window is shown (or its error is).
 */
export async function renderStatsPanel(container: HTMLElement, options: StatsPanelOptions): Promise<void> {
  const id = `stats-${++nextPanelId}`;
  const select = h('select', { id: `${id}-window`, name: 'since' }, ...WINDOWS.map((window) => h('option', { value: window.value }, window.label)));
  select.value = options.since ?? '24h';
  const body = h('div', { class: 'stats-body', 'aria-live': 'polite' });
  const panel = h(
    'section',
    { class: 'card stats-panel', 'aria-labelledby': `${id}-heading`, 'data-testid': 'stats-panel' },
    h(
      'div',
      { class: 'title-row' },
      h('h3', { id: `${id}-heading` }, options.subscriptionId ? 'Delivery stats' : 'Delivery stats, all subscriptions'),
      h('label', { for: `${id}-window`, class: 'inline' }, 'Window'),
      select,
    ),
    body,
  );
  replaceChildren(container, panel);

  const show = async () => {
    const window = WINDOWS.find((candidate) => candidate.value === select.value) ?? WINDOWS[1];
    const stats = await options.view.feedback.run('Loading delivery stats', () => loadStats(options, window), { control: null });
    if (!options.view.isCurrent() || stats === undefined) return;
    if (stats === null) {
      replaceChildren(body, h('p', { class: 'empty' }, 'No stats: the subscription does not exist.'));
      return;
    }
    replaceChildren(body, totals(stats), charts(stats, window));
  };
  select.onchange = () => void show();
  await show();
}
