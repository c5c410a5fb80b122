// One principal: its level and standing, the next-step checklist, its timeline, a chart of
// standing and level through time, its evidence, vouches and rank — live.

import { append, clear, entryLink, fixed, forgottenBadge, h, int, isForgotten, iso, note, onCleanup, principalLink, rank, section, stake, stepCause, table, view } from "../dom.js";
import { api, enc, errorBox, getPolicy, onLogGrowth } from "../session.js";

// ---------------------------------------------------------------------------------------------
// One principal

async function principalView(id, current) {
  document.title = `${id} · stepwise`;
  const base = `/v1/principals/${enc(id)}`;
  const draw = async () => {
    const [explain, trust, series, vouches, row, policy] = await Promise.all([
      api(`${base}/explain`),
      api(`${base}/trust`),
      api(`${base}/series?points=200`).catch((e) => ({ error: e })),
      api(`${base}/vouches`).catch((e) => ({ error: e })),
      api(`/v1/principals?${new URLSearchParams({ prefix: id, sort: "id", limit: "1" })}`).catch((e) => ({ error: e })),
      getPolicy().catch(() => null),
    ]);
    if (!current()) return null;
    return { explain, trust, series, vouches, row, policy };
  };
  const data = await draw();
  if (!data) return;
  const body = h("div", { id: "principal", dataset: { principal: id } });
  clear(view, h("h1", {}, "Principal ", h("code", {}, id), isForgotten(id) ? forgottenBadge() : null), body);
  let chart = null;
  const paint = (d) => {
    if (chart) chart.destroy();
    chart = drawPrincipal(body, id, d);
  };
  paint(data);
  onCleanup(() => chart && chart.destroy());
  onLogGrowth(() =>
    draw()
      .then((d) => d && current() && paint(d))
      .catch(() => {}),
    2000,
  );
}

function drawPrincipal(body, id, { explain: x, trust: t, series, vouches, row, policy }) {
  const levelName = (k) => {
    const l = policy && policy.ladder[k];
    return l ? `${k} ${l.name}` : String(k);
  };
  const exact = row && !row.error ? (row.principals || []).find((p) => p.principal === id) : null;
  const rankText = exact ? rank(exact.rank) : t ? rank(t.rank) : "—";
  const standing = section(
    "Level and standing",
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Level"),
      h("dd", { id: "level", dataset: { level: String(x.level.index) } }, `${x.level.index} — ${x.level.name}`),
      h("dt", {}, "Expected trust (standing)"),
      h("dd", { id: "expected" }, fixed(x.expected)),
      h("dt", {}, "Uncertainty"),
      h("dd", {}, fixed(x.uncertainty)),
      h("dt", {}, "Limit now"),
      h("dd", {}, `${stake(x.limit)} (level allows ${stake(x.max_stake)})`),
      h("dt", {}, "At stake now"),
      h("dd", {}, stake(x.exposure)),
      h("dt", {}, "Capabilities"),
      h("dd", {}, x.capabilities.join(", ") || "—"),
      h("dt", {}, "Network rank"),
      h("dd", { id: "rank" }, rankText, exact ? ` (table at log size ${int(row.log_size)})` : ""),
      h("dt", {}, "As of"),
      h("dd", {}, `${iso(x.at)}, log size ${int(x.log_size)}`),
    ),
    t
      ? h(
          "p",
          { class: "muted", id: "counts", dataset: { ratings: String(t.counts.ratings_positive + t.counts.ratings_negative) } },
          `Evidence counts: ${int(t.counts.kept)} kept, ${int(t.counts.broken)} broken, ${int(t.counts.partial)} partial, ` +
            `${int(t.counts.overdue)} overdue, ${int(t.counts.ratings_positive)} positive and ${int(t.counts.ratings_negative)} negative ratings, ` +
            `${int(t.counts.reports)} reports, ${int(t.counts.vouches)} vouches.`,
        )
      : null,
  );

  const next = x.next_step;
  const checklist = section(
    "Next step",
    next
      ? [
          note(`To reach level ${next.level} — ${next.name} (stakes up to ${stake(next.max_stake)}):`, ""),
          h(
            "ul",
            { class: "checklist", id: "next-step" },
            next.requirements.map((r) =>
              h(
                "li",
                { class: r.met ? "met" : "unmet", dataset: { met: String(r.met), name: r.name } },
                h("span", { class: "mark", "aria-hidden": "true" }, r.met ? "✓" : "✗"),
                h("span", { class: "sr-only" }, r.met ? "met: " : "not met: "),
                r.message,
              ),
            ),
          ),
        ]
      : note("At the top of the ladder: there is no next step."),
  );

  const chartBox = h("div", { class: "chart", id: "chart" });
  const chartCard = section("Expected trust and level over time", chartBox);
  if (series && series.error) chartBox.append(errorBox(series.error));
  else if (!series || series.points.length < 2) chartBox.append(note("Not enough evidence over time to draw."));
  else chartCard.append(note(`${int(series.points.length)} points from ${iso(series.from)} to ${iso(series.to)}.`));

  const timeline = section(
    "Timeline of promotions and demotions",
    x.timeline.length === 0
      ? note("No promotion or demotion yet.")
      : table(
          ["At", "Move", "Cause"],
          x.timeline
            .slice()
            .reverse()
            .map((s) =>
              h(
                "tr",
                {},
                h("td", { class: "time" }, iso(s.at)),
                h("td", {}, h("span", { class: s.to > s.from ? "up" : "down" }, s.to > s.from ? "▲ " : "▼ "), `${levelName(s.from)} → ${levelName(s.to)}`),
                h("td", {}, stepCause(s.cause), s.cause && s.cause.index !== null && s.cause.index !== undefined ? [" ", entryLink(s.cause.index)] : null),
              ),
            ),
          { id: "timeline" },
        ),
  );

  const cited = [...new Set([...(x.evidence || []), ...((t && t.indexes) || [])])].sort((a, b) => a - b);
  const shown = cited.slice(-300);
  const historySet = new Set([...(x.history || []), ...((t && t.history) || [])]);
  const allHistory = cited.length > 0 && cited.every((i) => historySet.has(i));
  const evidence = section(
    "Evidence",
    note(
      `${int(cited.length)} log entries cited by the standing and the trust figure` +
        (t && t.indexes_total > (t.indexes || []).length ? ` (the trust figure rests on ${int(t.indexes_total)} in all)` : "") +
        (shown.length < cited.length ? `; the latest ${int(shown.length)} are listed` : "") +
        (allHistory ? "; all imported as history (dated by their data set)." : historySet.size ? "; entries marked h were imported as history." : "."),
    ),
    h(
      "ul",
      { class: "chips", id: "evidence" },
      shown.map((i) => h("li", {}, entryLink(i, historySet.has(i) && !allHistory ? `#${int(i)} h` : `#${int(i)}`))),
    ),
  );

  const vouchCard = section("Vouches");
  if (vouches && vouches.error) vouchCard.append(errorBox(vouches.error));
  else if (vouches) {
    const rows = (list, who) =>
      list.length === 0
        ? note("None.")
        : table(
            [who === "voucher" ? "Voucher" : "Subject", "Scope", "Counted", "Entry"],
            list.map((v) =>
              h(
                "tr",
                {},
                h("td", {}, principalLink(v[who])),
                h("td", {}, v.scope || "all scopes"),
                h("td", {}, v.counted === undefined ? "—" : v.counted ? "yes" : "no (no seed reaches the voucher)"),
                h("td", {}, entryLink(v.index)),
              ),
            ),
          );
    append(vouchCard, [
      h("h3", {}, `Received (${int(vouches.received.length)})`),
      h("div", { id: "vouches-received" }, rows(vouches.received, "voucher")),
      h("h3", {}, `Given (${int(vouches.given.length)})`),
      h("div", { id: "vouches-given" }, rows(vouches.given, "subject")),
    ]);
  }

  clear(body, h("div", { class: "grid" }, standing, checklist), chartCard, timeline, evidence, vouchCard);
  if (series && !series.error && series.points.length >= 2) return drawChart(chartBox, series);
  return null;
}

function drawChart(box, series) {
  if (typeof uPlot !== "function") {
    box.append(note("The chart library did not load."));
    return null;
  }
  const xs = series.points.map((p) => Date.parse(p.at) / 1000);
  const expected = series.points.map((p) => p.expected);
  const levels = series.points.map((p) => p.level);
  const width = () => Math.max(280, box.clientWidth || 600);
  const opts = {
    width: width(),
    height: 260,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    scales: { x: { time: true }, trust: { range: [0, 1] }, level: { range: (u, min, max) => [0, Math.max(1, max + 0.5)] } },
    series: [
      { label: "time (UTC)", value: (u, v) => (v === null ? "—" : new Date(v * 1000).toISOString().replace(".000Z", "Z")) },
      { label: "expected trust", scale: "trust", stroke: "#1f5fbf", width: 2, value: (u, v) => (v === null ? "—" : v.toFixed(3)) },
      { label: "level", scale: "level", stroke: "#b5501a", width: 2, paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => (v === null ? "—" : String(v)) },
    ],
    axes: [
      {
        // Dates as ISO 8601 (UTC): the day, or the time of day over a short span.
        space: 90,
        values: (u, splits) => {
          const step = splits.length > 1 ? splits[1] - splits[0] : 86400;
          return splits.map((s) => {
            const t = new Date(s * 1000).toISOString();
            return step < 86400 ? `${t.slice(5, 10)} ${t.slice(11, 16)}` : t.slice(0, 10);
          });
        },
      },
      { scale: "trust", label: "expected trust" },
      { scale: "level", side: 1, label: "level", grid: { show: false }, incrs: [1] },
    ],
  };
  const plot = new uPlot(opts, [xs, expected, levels], box);
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", `Expected trust from ${fixed(expected[0])} to ${fixed(expected[expected.length - 1])}, level from ${levels[0]} to ${levels[levels.length - 1]}`);
  const resize = () => plot.setSize({ width: width(), height: 260 });
  window.addEventListener("resize", resize);
  return { destroy: () => (window.removeEventListener("resize", resize), plot.destroy()) };
}

export { principalView };
