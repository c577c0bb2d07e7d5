// Log in: an owner of `ringbar management adduser` with their password,
// checked by the management realm's WAMP-ticket authentication.

import { h, onSubmit } from "./dom.js";

/** Refusals that mean a wrong name or password. */
const REFUSED = new Set([
  "wamp.error.not_authorized",
  "wamp.error.authentication_failed",
  "wamp.error.no_such_principal",
  "wamp.error.authorization_failed",
  "wamp.error.no_auth_method",
]);

/** The login page; `logIn(name, password)` joins. */
export function loginPage(logIn) {
  const error = h("p", { id: "login-error", class: "error", role: "alert" });
  const name = h("input", {
    id: "login-name", name: "username", autocomplete: "username",
    required: true, autofocus: true, "aria-describedby": "login-error",
  });
  const password = h("input", {
    id: "login-password", name: "password", type: "password",
    autocomplete: "current-password", required: true, "aria-describedby": "login-error",
  });
  const button = h("button", { type: "submit", id: "login-submit" }, "Log in");
  const form = h("form", { class: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in"),
    h("p", { class: "hint" }, "An owner added with ", h("code", {}, "ringbar management adduser"), "."),
    h("label", { for: "login-name" }, "Name"), name,
    h("label", { for: "login-password" }, "Password"), password,
    button, error);
  onSubmit(form, button, error, () => logIn(name.value.trim(), password.value), (refused) => {
    error.textContent = REFUSED.has(refused.uri) ? "Wrong name or password." : refused.message;
    password.value = "";
    password.focus();
  });
  return form;
}
