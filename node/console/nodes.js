// Nodes: every node paired with the owner, with the figures of its last
// status report, kept current from the reports as they arrive.

import { h, duration, when, fingerprint, instanceTypes, figure } from "./dom.js";

const LIST_NODES = "ringbar.management.owner.list_nodes";
/** How often the list is fetched again, so a node that stopped reporting
 *  shows as offline. */
const REFRESH_MS = 5000;

const COLUMNS = [
  ["name", "Name"],
  ["fingerprint", "Key fingerprint"],
  ["types", "Instance type"],
  ["state", "State"],
  ["last_seen", "Last seen"],
  ["version", "Version"],
  ["uptime", "Uptime"],
  ["sessions", "Sessions"],
  ["rate", "Messages/s (in / out)"],
];

/** The Nodes page. */
export async function nodesPage(ctx) {
  const body = h("tbody");
  const rows = new Map();
  const empty = h("p", { class: "hint" }, "No nodes yet: ", h("a", { href: "#/pair" }, "pair one"), ".");

  const cells = (node) => ({
    name: h("a", { href: `#/node/${encodeURIComponent(node.node)}` }, node.name || node.node.slice(0, 8)),
    fingerprint: h("code", { title: node.node }, fingerprint(node.node)),
    types: instanceTypes(node),
    state: h("span", { class: node.online ? "online" : "offline" }, node.online ? "online" : "offline"),
    last_seen: node.online ? "now" : when(node.last_seen),
    version: node.version || "–",
    uptime: node.online ? duration(node.uptime_s) : "–",
    sessions: node.online ? figure(node.sessions) : "–",
    rate: node.online ? `${figure(node.messages_in_per_s)} / ${figure(node.events_out_per_s)}` : "–",
  });

  const show = (node) => {
    const known = rows.get(node.node);
    const merged = { ...(known ? known.node : {}), ...node };
    const row = h("tr", { "data-node": merged.node },
      COLUMNS.map(([key, label]) => h("td", { "data-field": key, "data-label": label }, cells(merged)[key])));
    if (known) known.row.replaceWith(row); else body.append(row);
    rows.set(merged.node, { node: merged, row });
    empty.hidden = rows.size > 0;
  };

  const refresh = async () => {
    const nodes = await ctx.session.call(LIST_NODES);
    const listed = Array.isArray(nodes) ? nodes : [];
    const keys = new Set(listed.map((node) => node.node));
    for (const [key, known] of rows) {
      if (!keys.has(key)) {
        known.row.remove();
        rows.delete(key);
      }
    }
    for (const node of listed) show(node);
    empty.hidden = rows.size > 0;
  };
  await refresh();
  ctx.onStatus((status) => {
    if (rows.has(status.node)) show({ ...status, online: true });
  });
  ctx.every(REFRESH_MS, () => refresh().catch(() => {}));

  return h("section", { "aria-labelledby": "nodes-title" },
    h("div", { class: "title-row" },
      h("h1", { id: "nodes-title" }, "Nodes"),
      h("a", { class: "button", href: "#/pair" }, "Pair Instance")),
    empty,
    h("div", { class: "table-wrap" },
      h("table", { id: "nodes" },
        h("thead", {}, h("tr", {}, COLUMNS.map(([, label]) => h("th", { scope: "col" }, label)))),
        body)));
}
