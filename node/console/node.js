// One node: its figures, live charts from its status reports (one a
// second), its configuration (edited here, checked by the service with
// the node's own config reader, sent to the node), and unpairing.

import { h, onSubmit, duration, when, instanceTypes, figure } from "./dom.js";
import { lineChart } from "./chart.js";

const API = "ringbar.management.owner.";

/** The Node page of the node `key`. */
export async function nodePage(ctx, key) {
  const nodes = await ctx.session.call(`${API}list_nodes`);
  const node = (Array.isArray(nodes) ? nodes : []).find((n) => n.node === key);
  if (!node) {
    return h("section", {}, h("h1", {}, "No such node"),
      h("p", {}, "You have no node with this key. ", h("a", { href: "#/nodes" }, "Back to the nodes"), "."));
  }
  const config = await ctx.session.call(`${API}get_node_config`, [key]);

  const figures = h("dl", { class: "figures", id: "node-figures" });
  const showFigures = (status) => {
    const rows = [
      ["State", status.online ? "online" : "offline"],
      ["Instance type", instanceTypes(status)],
      ["Last seen", status.online ? "now" : when(node.last_seen)],
      ["Version", status.version || "–"],
      ["Uptime", status.online ? duration(status.uptime_s) : "–"],
      ["Cores", figure(status.cores)],
      ["I/O", status.io || "–"],
      ["Sessions", figure(status.sessions)],
      ["Messages in/s", figure(status.messages_in_per_s)],
      ["Events out/s", figure(status.events_out_per_s)],
      ["Transports", (Array.isArray(status.transports) ? status.transports : [])
        .map((t) => `${t.type} ${t.endpoint}`).join(", ") || "–"],
    ];
    figures.replaceChildren(...rows.flatMap(([label, value]) => [h("dt", {}, label), h("dd", { "data-field": label }, value)]));
  };
  showFigures(node);

  const sessions = lineChart("chart-sessions", "Sessions");
  const messages = lineChart("chart-messages", "Messages per second");
  const perCore = lineChart("chart-cores", "Sessions per core");
  const perCoreRates = lineChart("chart-core-messages", "Messages per second, per core");
  let previous = null;
  const plot = (status) => {
    sessions.push({ sessions: status.sessions });
    messages.push({ in: status.messages_in_per_s, out: status.events_out_per_s });
    const cores = Array.isArray(status.sessions_per_core) ? status.sessions_per_core : [];
    perCore.push(Object.fromEntries(cores.map((n, core) => [`core ${core}`, n])));
    // The node reports counters per core; their rates are the change
    // between two reports.
    const list = (value) => (Array.isArray(value) ? value : []);
    const counts = { in: list(status.messages_in_per_core), out: list(status.events_out_per_core) };
    const now = performance.now();
    if (previous && now > previous.at) {
      const seconds = (now - previous.at) / 1000;
      const rates = {};
      for (const way of ["in", "out"]) {
        counts[way].forEach((n, core) => {
          const before = previous.counts[way][core];
          if (typeof before === "number") rates[`${way} core ${core}`] = Math.max(0, Math.round((n - before) / seconds));
        });
      }
      perCoreRates.push(rates);
    }
    previous = { counts, at: now };
  };
  ctx.onStatus((status) => {
    if (status.node !== key) return;
    showFigures({ ...status, online: true });
    plot(status);
  });

  const editor = configEditor(ctx, key, config);
  const unpair = unpairControl(ctx, key, node.name);
  const page = h("section", { "aria-labelledby": "node-title" },
    h("div", { class: "title-row" },
      h("h1", { id: "node-title" }, node.name || key.slice(0, 8)),
      h("a", { href: "#/nodes" }, "All nodes")),
    h("p", { class: "key" }, "Key ", h("code", {}, key)),
    figures,
    h("h2", {}, "Live"),
    h("div", { class: "charts" }, sessions.element, messages.element, perCore.element, perCoreRates.element),
    editor,
    unpair);
  // The canvases have their size once the page is in the document.
  requestAnimationFrame(() => {
    for (const chart of [sessions, messages, perCore, perCoreRates]) chart.draw();
  });
  return page;
}

/** The configuration editor: Apply sends the text; the service's errors
 *  (each with its JSON path) show next to it. */
function configEditor(ctx, key, text) {
  const area = h("textarea", {
    id: "config-text", rows: "20", spellcheck: "false", "aria-describedby": "config-errors config-note",
  });
  area.value = pretty(text);
  const errors = h("ul", { id: "config-errors", class: "error", role: "alert" });
  const note = h("p", { id: "config-note", role: "status" });
  const button = h("button", { type: "submit", id: "config-apply" }, "Check and apply");
  const form = h("form", { class: "config", "aria-labelledby": "config-title" },
    h("h2", { id: "config-title" }, "Configuration"),
    h("label", { for: "config-text" }, "config.json of this node (checked as ", h("code", {}, "ringbar check"), " does)"),
    h("div", { class: "editor" }, area, errors),
    button, note);
  onSubmit(form, button, errors, async () => {
    note.textContent = "";
    const answer = await ctx.session.call(`${API}set_node_config`, [key, area.value]);
    area.removeAttribute("aria-invalid");
    note.textContent = `Applied: ${answer}`;
  }, (refused) => {
    const lines = String(refused.message).split("\n").filter((line) => line.trim());
    errors.replaceChildren(...lines.map((line) => h("li", {}, line)));
    area.setAttribute("aria-invalid", "true");
    area.focus();
  });
  return form;
}

/** Unpair, asked twice. */
function unpairControl(ctx, key, name) {
  const error = h("p", { class: "error", role: "alert" });
  const confirm = h("div", { class: "confirm", hidden: true },
    h("p", {}, `Unpair '${name}'? It keeps routing with its configuration and shows a new activation code.`),
    h("button", { type: "button", id: "unpair-confirm", class: "danger", onclick: async () => {
      try {
        await ctx.session.call(`${API}unpair_node`, [key]);
        ctx.flash(`Node '${name}' is unpaired.`);
        ctx.go("#/nodes");
      } catch (failed) {
        error.textContent = failed.message;
      }
    } }, "Unpair"),
    h("button", { type: "button", onclick: () => { confirm.hidden = true; start.focus(); } }, "Cancel"));
  const start = h("button", { type: "button", id: "unpair", class: "danger", onclick: () => {
    confirm.hidden = false;
    document.getElementById("unpair-confirm").focus();
  } }, "Unpair…");
  return h("section", { "aria-labelledby": "unpair-title" },
    h("h2", { id: "unpair-title" }, "Unpair"), start, confirm, error);
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
