// The cost-growth plot of the day bench: for each feature count, what one day of the platform
// uses as a share of what the plan includes per day, as grouped bars in a self-contained SVG.

const WIDTH = 720;
const HEIGHT = 360;
const MARGIN = { top: 48, right: 24, bottom: 64, left: 64 };
const SERIES = [
  { field: "d1_rows_written", label: "D1 rows written", color: "#1f6feb" },
  { field: "d1_rows_read", label: "D1 rows read", color: "#2da44e" },
  { field: "kv_writes", label: "KV writes", color: "#d4a72c" },
];

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

/**
 * `days`: [{ features, totals, dollars }]; `paid`: { field: [included per month, $ per million] }.
 * Returns the SVG text.
 */
export function costGrowthSvg(days, paid) {
  const share = (totals, field) => (100 * (totals[field] ?? 0)) / (paid[field][0] / 30);
  const highest = Math.max(1, ...days.flatMap(({ totals }) => SERIES.map((s) => share(totals, s.field))));
  const top = Math.ceil(highest / 5) * 5;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const group = plotWidth / days.length;
  const bar = Math.min(40, (group * 0.7) / SERIES.length);
  const y = (percent) => MARGIN.top + plotHeight - (percent / top) * plotHeight;
  const parts = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12" role="img" aria-labelledby="title">`,
    `<title id="title">The platform's own daily use at 1 M messages a day, as a share of the Workers Paid plan's included amount per day</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="14" font-weight="bold">The platform's own use per day, % of the Paid plan's daily included amount</text>`,
  );
  for (let tick = 0; tick <= 5; tick++) {
    const percent = (top / 5) * tick;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(percent)}" y2="${y(percent)}" stroke="#d0d7de"/>`,
      `<text x="${MARGIN.left - 8}" y="${y(percent) + 4}" text-anchor="end">${percent.toFixed(percent < 10 ? 1 : 0)}%</text>`,
    );
  }
  days.forEach(({ features, totals, dollars }, i) => {
    const left = MARGIN.left + i * group + (group - bar * SERIES.length) / 2;
    SERIES.forEach((series, j) => {
      const value = share(totals, series.field);
      const x = left + j * bar;
      parts.push(
        `<rect x="${x}" y="${y(value)}" width="${bar - 4}" height="${y(0) - y(value)}" fill="${series.color}"><title>${escape(series.label)}: ${value.toFixed(2)}%</title></rect>`,
        `<text x="${x + (bar - 4) / 2}" y="${y(value) - 4}" text-anchor="middle" font-size="10">${value.toFixed(1)}</text>`,
      );
    });
    const center = MARGIN.left + i * group + group / 2;
    parts.push(
      `<text x="${center}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="middle">${features.toLocaleString("en-US")} features</text>`,
      `<text x="${center}" y="${HEIGHT - MARGIN.bottom + 34}" text-anchor="middle" fill="#57606a">$${dollars.toFixed(2)} per day over the included amounts</text>`,
    );
  });
  SERIES.forEach((series, j) => {
    const x = MARGIN.left + j * 150;
    parts.push(
      `<rect x="${x}" y="${HEIGHT - 18}" width="12" height="12" fill="${series.color}"/>`,
      `<text x="${x + 18}" y="${HEIGHT - 8}">${escape(series.label)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
