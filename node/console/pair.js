// Pair Instance: the activation code a waiting node logged, and a name
// for it, as in Crossbar.io's console.

import { h, onSubmit } from "./dom.js";

const REASONS = {
  "ringbar.management.error.invalid_code": "No node is waiting with this activation code. Check the code in the node's log.",
  "ringbar.management.error.expired_code": "This activation code expired; the node has logged a new one.",
  "ringbar.management.error.too_many_attempts": "Too many wrong activation codes; wait a minute and try again.",
};

/** The Pair Instance page. */
export function pairPage(ctx) {
  const error = h("p", { id: "pair-error", class: "error", role: "alert" });
  const code = h("input", {
    id: "pair-code", name: "code", required: true, autofocus: true, autocomplete: "off",
    spellcheck: "false", placeholder: "XXXX-XXXX-XXXX", "aria-describedby": "pair-code-hint pair-error",
  });
  const name = h("input", {
    id: "pair-name", name: "name", required: true, autocomplete: "off", maxlength: "64",
    "aria-describedby": "pair-error",
  });
  const button = h("button", { type: "submit", id: "pair-submit" }, "Pair");
  const form = h("form", { class: "card narrow", "aria-labelledby": "pair-title" },
    h("h1", { id: "pair-title" }, "Pair Instance"),
    h("label", { for: "pair-code" }, "Activation code"), code,
    h("p", { id: "pair-code-hint", class: "hint" },
      "A node that is not paired logs: Log into this console to configure your instance using the activation code: CODE"),
    h("label", { for: "pair-name" }, "Node name"), name,
    button, error);
  onSubmit(form, button, error, async () => {
    const paired = await ctx.session.call("ringbar.management.owner.pair", [code.value.trim()], { name: name.value.trim() });
    ctx.flash(`Node '${paired.name}' is paired.`);
    ctx.go("#/nodes");
  }, (refused) => {
    error.textContent = REASONS[refused.uri] || refused.message;
    code.focus();
  });
  return form;
}
