// Builds elements from data without HTML strings, so nothing a node or the
// service sends can become markup.

/** An element `tag` with `attrs` (`class`, `for`, `on*` handlers, any
 *  attribute) and `children` (elements, strings, or null to skip). */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** Runs `action()` when `form` is submitted, `button` disabled meanwhile;
 *  `error` is emptied first, and `explain(refusal)` says why it failed. */
export function onSubmit(form, button, error, action, explain) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      await action();
    } catch (refusal) {
      explain(refusal);
    } finally {
      button.disabled = false;
    }
  });
}

/** `seconds` as "3 d 4 h", "5 h 6 min", "7 min 8 s" or "9 s". */
export function duration(seconds) {
  if (typeof seconds !== "number") return "–";
  const s = Math.floor(seconds);
  const [d, hr, min] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  if (d > 0) return `${d} d ${hr} h`;
  if (hr > 0) return `${hr} h ${min} min`;
  if (min > 0) return `${min} min ${s % 60} s`;
  return `${s} s`;
}

/** A Unix time in seconds as local date and time. */
export function when(unixSeconds) {
  if (typeof unixSeconds !== "number") return "never";
  return new Date(unixSeconds * 1000).toLocaleString();
}

/** A public key's fingerprint: its first 16 hex digits in groups of 4. */
export function fingerprint(key) {
  return (key.slice(0, 16).match(/.{1,4}/g) || []).join(" ");
}

/** What a node runs: a router, bridge workers, guest workers. */
export function instanceTypes(status) {
  const types = status.running ? ["router"] : [];
  for (const [list, kind] of [[status.bridges, "bridge"], [status.guests, "guest"]]) {
    const count = Array.isArray(list) ? list.length : 0;
    if (count === 1) types.push(kind);
    if (count > 1) types.push(`${count} ${kind}s`);
  }
  return types.length ? types.join(", ") : "–";
}

/** A figure or a dash. */
export function figure(value) {
  return typeof value === "number" ? String(value) : "–";
}
