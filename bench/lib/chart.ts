/**
 * A small horizontal bar chart as SVG, with no dependency: one panel per
 * metric, one bar per target, the value written at the end of each bar.
 */
export interface Panel {
  readonly title: string;
  readonly unit: string;
  readonly bars: ReadonlyArray<{ readonly label: string; readonly value: number; readonly highlight?: boolean }>;
}

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function barChart(title: string, panels: readonly Panel[]): string {
  const width = 760;
  const labelWidth = 250;
  const barArea = width - labelWidth - 90;
  const barHeight = 18;
  const gap = 6;
  let y = 40;
  const parts: string[] = [`<text x="10" y="24" font-size="16" font-weight="bold">${escape(title)}</text>`];
  for (const panel of panels) {
    parts.push(`<text x="10" y="${y + 14}" font-size="13" font-weight="bold">${escape(panel.title)} (${escape(panel.unit)})</text>`);
    y += 24;
    const max = Math.max(...panel.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), 1);
    for (const bar of panel.bars) {
      const w = Number.isFinite(bar.value) ? Math.max(1, (bar.value / max) * barArea) : 0;
      const fill = bar.highlight ? '#2b6cb0' : '#a0aec0';
      parts.push(`<text x="${labelWidth - 8}" y="${y + 13}" font-size="12" text-anchor="end">${escape(bar.label)}</text>`);
      parts.push(`<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${fill}"/>`);
      const text = Number.isFinite(bar.value) ? (bar.value >= 100 ? bar.value.toFixed(0) : bar.value.toFixed(2)) : 'n/a';
      parts.push(`<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 13}" font-size="12">${text}</text>`);
      y += barHeight + gap;
    }
    y += 14;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
