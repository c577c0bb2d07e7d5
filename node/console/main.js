// The console's shell: logging in and out, the session's expiry, and which
// page shows (by the URL's fragment: #/nodes, #/pair, #/node/KEY).

import { join } from "./wamp.js";
import { loginPage } from "./login.js";
import { pairPage } from "./pair.js";
import { nodesPage } from "./nodes.js";
import { nodePage } from "./node.js";

const REALM = "ringbar.management";
const ON_NODE_STATUS = "ringbar.management.owner.on_node_status";
/** A console left alone this long logs out. */
const IDLE_LIMIT_MS = 30 * 60 * 1000;

const state = {
  session: null,
  owner: null,
  page: null,
  idle: null,
  statusListeners: new Set(),
  /** The status line stays for the page shown next, then clears. */
  flashFresh: false,
};

const view = () => document.getElementById("view");

/** Says `text` in the status line (read out by screen readers). */
export function flash(text) {
  document.getElementById("flash").textContent = text;
  state.flashFresh = true;
}

/** Joins as `owner` with `password`; rejects with a WampError. */
async function logIn(owner, password) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const session = await join(`${scheme}//${location.host}/ws`, REALM, owner, password);
  state.session = session;
  state.owner = owner;
  session.onclose = (asked) => {
    if (state.session !== session) return;
    logOut(asked ? "" : "The connection to the management service was lost; log in again.");
  };
  await session.subscribe(ON_NODE_STATUS, (args) => {
    const status = args[0];
    if (status && typeof status === "object") {
      for (const listener of state.statusListeners) listener(status);
    }
  });
  for (const event of ["keydown", "pointerdown"]) {
    document.addEventListener(event, stillHere);
  }
  stillHere();
  document.getElementById("who").textContent = owner;
  document.getElementById("nav").hidden = false;
  flash("");
  if (!location.hash || location.hash === "#/login") {
    location.hash = "#/nodes";
  } else {
    render();
  }
}

/** Leaves the session and shows the login page with `message`. */
function logOut(message) {
  const session = state.session;
  state.session = null;
  state.owner = null;
  clearTimeout(state.idle);
  for (const event of ["keydown", "pointerdown"]) {
    document.removeEventListener(event, stillHere);
  }
  if (session) session.leave();
  document.getElementById("nav").hidden = true;
  document.getElementById("who").textContent = "";
  flash(message);
  render();
}

function stillHere() {
  clearTimeout(state.idle);
  state.idle = setTimeout(
    () => logOut("Your session expired after 30 minutes without activity; log in again."),
    IDLE_LIMIT_MS,
  );
}

/** What a page gets: the session, and a way to hear node status reports
 *  while it shows. */
function context(cleanups) {
  return {
    session: state.session,
    owner: state.owner,
    flash,
    go: (hash) => { location.hash = hash; },
    onStatus(listener) {
      state.statusListeners.add(listener);
      cleanups.push(() => state.statusListeners.delete(listener));
    },
    every(ms, action) {
      const timer = setInterval(action, ms);
      cleanups.push(() => clearInterval(timer));
    },
  };
}

/** Shows the page the fragment names. */
async function render() {
  if (state.page) for (const cleanup of state.page) cleanup();
  const cleanups = [];
  state.page = cleanups;
  if (!state.flashFresh) document.getElementById("flash").textContent = "";
  state.flashFresh = false;
  const main = view();
  let page;
  if (!state.session) {
    page = loginPage(logIn);
  } else {
    const ctx = context(cleanups);
    const hash = location.hash;
    try {
      if (hash === "#/pair") {
        page = pairPage(ctx);
      } else if (hash.startsWith("#/node/")) {
        page = await nodePage(ctx, decodeURIComponent(hash.slice("#/node/".length)));
      } else {
        page = await nodesPage(ctx);
      }
    } catch (error) {
      page = document.createElement("p");
      page.className = "error";
      page.textContent = error.message;
    }
  }
  if (state.page !== cleanups) {
    for (const cleanup of cleanups) cleanup();
    return;
  }
  main.replaceChildren(page);
  const heading = main.querySelector("h1");
  if (heading) document.title = `${heading.textContent} · ringbar management`;
  // Keyboard and screen-reader users start on the new page.
  const first = main.querySelector("[autofocus]") || main;
  first.focus({ preventScroll: true });
}

window.addEventListener("hashchange", () => render());
window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", () => logOut("You logged out."));
  render();
});
