// Every principal: search by id prefix, sort by level, standing or rank, a page at a time.

import { clear, fixed, h, int, iso, navigate, principalLink, rank, table, view } from "../dom.js";
import { api, errorText } from "../session.js";

// ---------------------------------------------------------------------------------------------
// Principals: search, sort, pages

const SORTS = [
  ["level", "Level"],
  ["trust", "Expected trust"],
  ["rank", "Network rank"],
  ["id", "Id"],
];

async function principalsView(current) {
  document.title = "Principals · stepwise";
  const params = new URLSearchParams(location.search);
  const prefix = params.get("prefix") || "";
  const sort = SORTS.some(([s]) => s === params.get("sort")) ? params.get("sort") : "level";
  const prefixInput = h("input", { id: "prefix", name: "prefix", type: "search", value: prefix, autocomplete: "off", spellcheck: "false" });
  const sortSelect = h(
    "select",
    { id: "sort", name: "sort" },
    SORTS.map(([s, label]) => h("option", { value: s, selected: s === sort }, label)),
  );
  const form = h(
    "form",
    { class: "inline", id: "principal-search", role: "search" },
    h("span", { class: "field" }, h("label", { for: "prefix" }, "Id starts with"), prefixInput),
    h("span", { class: "field" }, h("label", { for: "sort" }, "Sort by"), sortSelect),
    h("button", { type: "submit" }, "Search"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (prefixInput.value.trim()) q.set("prefix", prefixInput.value.trim());
    q.set("sort", sortSelect.value);
    navigate(`/ui/principals?${q}`);
  });
  sortSelect.addEventListener("change", () => form.requestSubmit());

  const summary = h("p", { id: "principals-summary", class: "muted", "aria-live": "polite" });
  const tbody = h("tbody");
  const more = h("button", { type: "button", id: "more", hidden: true }, "More");
  let cursor = null;

  const load = async () => {
    const q = new URLSearchParams({ sort, limit: "50" });
    if (prefix) q.set("prefix", prefix);
    if (cursor) q.set("cursor", cursor);
    const page = await api(`/v1/principals?${q}`);
    if (!current()) return;
    for (const p of page.principals) {
      tbody.append(
        h(
          "tr",
          { dataset: { principal: p.principal } },
          h("td", {}, principalLink(p.principal)),
          h("td", { class: "num" }, String(p.level)),
          h("td", {}, p.level_name),
          h("td", { class: "num" }, fixed(p.expected)),
          h("td", { class: "num" }, fixed(p.uncertainty)),
          h("td", { class: "num" }, rank(p.rank)),
        ),
      );
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
    clear(
      summary,
      `Showing ${int(tbody.children.length)} of ${int(page.matched)} matching (${int(page.total)} principals), ` +
        `computed at log size ${int(page.log_size)}, ${iso(page.at)}.`,
    );
  };
  more.addEventListener("click", () => {
    more.disabled = true;
    load()
      .catch((e) => summary.replaceChildren(errorText(e)))
      .finally(() => {
        more.disabled = false;
      });
  });

  await load();
  if (!current()) return;
  clear(
    view,
    h("h1", {}, "Principals"),
    form,
    summary,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "principals" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Principal", "Level", "Level name", "Expected trust", "Uncertainty", "Rank"].map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        tbody,
      ),
    ),
    h("p", {}, more),
  );
}

export { principalsView };
