/// <reference lib="dom" />
// Line charts as SVG built with DOM APIs: no chart library, no inline style (the portal's CSP allows
// none), classes styled by portal.css. Each chart is an image with a title and a description for
// screen readers; its text summary (summarize) goes beside it.

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 200;
const PLOT = { left: 56, right: 12, top: 12, bottom: 28 } as const;

/** One value of a series; null where there was nothing to measure (the line breaks there). */
export interface ChartPoint {
  start: Date;
  value: number | null;
}

export interface LineChartOptions {
  /** The chart's <title> and accessible name. */
  title: string;
  /** The chart's <desc>: what it shows, and the summary in words. */
  description: string;
  points: readonly ChartPoint[];
  /** The time axis: from the window's start to its end. */
  from: Date;
  to: Date;
  /** The top of the value axis; at least the largest value. */
  yMax: number;
  formatValue(value: number): string;
  formatTime(time: Date): string;
  /** A class for the chart's series, e.g. `series-rate` (portal.css colours it). */
  seriesClass: string;
}

let nextChartId = 0;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

const round = (value: number) => Math.round(value * 10) / 10;

/** A line chart of `points` over [from, to]; gaps where a value is null, a dot where a value stands alone. */
export function lineChart(options: LineChartOptions): SVGSVGElement {
  const id = `chart-${++nextChartId}`;
  const chart = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: 'chart',
    role: 'img',
    'aria-labelledby': `${id}-title ${id}-desc`,
  });
  chart.append(svg('title', { id: `${id}-title` }, options.title), svg('desc', { id: `${id}-desc` }, options.description));

  const plotWidth = WIDTH - PLOT.left - PLOT.right;
  const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;
  const span = Math.max(1, options.to.getTime() - options.from.getTime());
  const yMax = options.yMax > 0 ? options.yMax : 1;
  const x = (time: Date) => round(PLOT.left + (Math.min(Math.max(time.getTime() - options.from.getTime(), 0), span) / span) * plotWidth);
  const y = (value: number) => round(PLOT.top + plotHeight - (Math.min(value, yMax) / yMax) * plotHeight);

  const axes = svg('g', { class: 'chart-axes', 'aria-hidden': 'true' });
  for (const fraction of [0, 0.5, 1]) {
    const value = yMax * fraction;
    axes.append(
      svg('line', { class: fraction === 0 ? 'chart-baseline' : 'chart-grid', x1: PLOT.left, x2: WIDTH - PLOT.right, y1: y(value), y2: y(value) }),
      svg('text', { class: 'chart-label', x: PLOT.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, options.formatValue(value)),
    );
  }
  axes.append(
    svg('text', { class: 'chart-label', x: PLOT.left, y: HEIGHT - 8, 'text-anchor': 'start' }, options.formatTime(options.from)),
    svg('text', { class: 'chart-label', x: WIDTH - PLOT.right, y: HEIGHT - 8, 'text-anchor': 'end' }, options.formatTime(options.to)),
  );
  chart.append(axes);

  // Runs of consecutive values become one path each; a run of one is a dot.
  const series = svg('g', { class: `chart-series ${options.seriesClass}`, 'aria-hidden': 'true' });
  let run: ChartPoint[] = [];
  const flush = () => {
    if (run.length === 1) {
      series.append(svg('circle', { class: 'chart-dot', cx: x(run[0]!.start), cy: y(run[0]!.value!), r: 3.5 }));
    } else if (run.length > 1) {
      const d = run.map((point, index) => `${index === 0 ? 'M' : 'L'}${x(point.start)},${y(point.value!)}`).join(' ');
      series.append(svg('path', { class: 'chart-line', d }));
    }
    run = [];
  };
  for (const point of options.points) {
    if (point.value === null || !Number.isFinite(point.value)) flush();
    else run.push(point);
  }
  flush();
  chart.append(series);
  return chart;
}

/** The series in words: how many intervals had a value, and the lowest and highest with their times. */
export function summarize(points: readonly ChartPoint[], formatValue: (value: number) => string, formatTime: (time: Date) => string): string {
  const measured = points.filter((point): point is ChartPoint & { value: number } => point.value !== null && Number.isFinite(point.value));
  if (measured.length === 0) return `No data in any of the ${points.length} intervals.`;
  let lowest = measured[0]!;
  let highest = measured[0]!;
  for (const point of measured) {
    if (point.value < lowest.value) lowest = point;
    if (point.value > highest.value) highest = point;
  }
  const latest = measured.at(-1)!;
  return (
    `${measured.length} of ${points.length} intervals had data. ` +
    `Lowest ${formatValue(lowest.value)} (${formatTime(lowest.start)}), highest ${formatValue(highest.value)} (${formatTime(highest.start)}), ` +
    `latest ${formatValue(latest.value)} (${formatTime(latest.start)}).`
  );
}

/** A round top for a value axis: 1, 2 or 5 times a power of ten, at least `max`. */
export function niceCeiling(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}
