/// <reference lib="dom" />
import type { ViewContext } from './context.js';
import { h, replaceChildren } from './dom.js';
import { renderStatsPanel } from './stats-panel.js';

/** The tenant at a glance: how its deliveries are doing across every subscription. */
export async function showOverview(view: ViewContext): Promise<void> {
  const stats = h('div', { class: 'overview-stats' });
  replaceChildren(view.main, h('div', { class: 'title-row' }, h('h2', {}, 'Overview')), stats);
  await renderStatsPanel(stats, { view });
}
