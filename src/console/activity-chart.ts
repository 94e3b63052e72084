/**
 * Calls and errors per minute as a server-rendered SVG bar chart: no script, no inline style (colours come from the
 * console stylesheet by class, with presentation attributes as the fallback), a title and a text summary for screen
 * readers. Each minute is one bar of calls with its errors drawn over it from the baseline.
 */
import { html, type Html } from '../authserver/html.js';
import type { MinuteCount } from '../admin/audit-service.js';

const WIDTH = 600;
const HEIGHT = 160;
const PAD = { left: 36, right: 8, top: 10, bottom: 22 };

/** A round axis maximum at or above `n` (1, 2, 5, 10, 20, 50, …) so the labels read well. */
export function niceCeiling(n: number): number {
  if (n <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((v) => v >= n)!;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function activityChart(minutes: readonly MinuteCount[]): Html {
  const calls = minutes.reduce((sum, m) => sum + m.calls, 0);
  const errors = minutes.reduce((sum, m) => sum + m.errors, 0);
  const max = niceCeiling(Math.max(0, ...minutes.map((m) => m.calls)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, minutes.length);
  const barW = Math.max(1, slot * 0.8);
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const bars = minutes.flatMap((m, i) => {
    const x = (PAD.left + i * slot + (slot - barW) / 2).toFixed(1);
    const label = `${m.at.toISOString().slice(11, 16)} UTC: ${plural(m.calls, 'call')}, ${plural(m.errors, 'error')}`;
    const out: Html[] = [];
    if (m.calls > 0) {
      out.push(html`<rect class="calls" fill="#1a56db" x="${x}" y="${y(m.calls).toFixed(1)}" width="${barW.toFixed(1)}" height="${(PAD.top + plotH - y(m.calls)).toFixed(1)}"><title>${label}</title></rect>`);
    }
    if (m.errors > 0) {
      out.push(html`<rect class="errors" fill="#c81e1e" x="${x}" y="${y(m.errors).toFixed(1)}" width="${barW.toFixed(1)}" height="${(PAD.top + plotH - y(m.errors)).toFixed(1)}"><title>${label}</title></rect>`);
    }
    return out;
  });
  const first = minutes[0]?.at.toISOString().slice(11, 16) ?? '';
  const last = minutes.at(-1)?.at.toISOString().slice(11, 16) ?? '';
  const peak = Math.max(0, ...minutes.map((m) => m.calls));
  const summary = `${plural(calls, 'tool call')} and ${plural(errors, 'error')} in the last ${minutes.length} minutes (${first}–${last} UTC); at most ${plural(peak, 'call')} in one minute.`;
  return html`<figure>
<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="chart-title chart-summary" xmlns="http://www.w3.org/2000/svg">
<title id="chart-title">Tool calls and errors per minute</title>
<line class="axis" stroke="#888" x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${WIDTH - PAD.right}" y2="${PAD.top + plotH}"></line>
<line class="axis" stroke="#888" x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}"></line>
<text x="${PAD.left - 4}" y="${PAD.top + 4}" text-anchor="end">${max}</text>
<text x="${PAD.left - 4}" y="${PAD.top + plotH}" text-anchor="end">0</text>
<text x="${PAD.left}" y="${HEIGHT - 6}">${first}</text>
<text x="${WIDTH - PAD.right}" y="${HEIGHT - 6}" text-anchor="end">${last} UTC</text>
${bars}
</svg>
<figcaption><span class="legend"><span><span class="swatch calls"></span>calls</span><span><span class="swatch errors"></span>errors (any outcome but ok)</span></span>
<span id="chart-summary">${summary}</span></figcaption>
</figure>`;
}
