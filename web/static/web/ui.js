// Small DOM helpers shared by the pages: element building, announcements for screen
// readers, focus, and the pieces both pages draw (leaderboard, countdown, times).

// h("p", {class: "x", text: "hi"}, child, …): an element. Attributes with value false,
// null or undefined are left out; `text` sets textContent; `on: {click: fn}` listeners.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") element.textContent = value;
    else if (name === "on") {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

// Polite announcements through one visually hidden live region. The same text twice in a
// row is announced twice (the region is cleared first).
export function announce(text) {
  const region = $("#announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

// Moves focus to `element` (a heading gets tabindex=-1 to accept it) without scrolling
// past it on small screens.
export function focusOn(element) {
  if (!element) return;
  if (!element.hasAttribute("tabindex") && !/^(BUTTON|INPUT|A|SELECT|TEXTAREA)$/.test(element.tagName)) {
    element.setAttribute("tabindex", "-1");
  }
  element.focus({ preventScroll: false });
}

// True when the focus is inside `root`, or nowhere in particular (the body): a redraw of
// `root` may then take it along.
export function focusWithin(root) {
  const active = document.activeElement;
  return !active || active === document.body || root.contains(active);
}

export function showOnly(views, visible) {
  for (const view of views) view.hidden = view !== visible;
}

// Shapes beside answer colours, so colour is never the only cue.
export const SHAPES = ["▲", "◆", "●", "■", "★", "⬟", "⬢", "✚"];

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

export function points(value) {
  return `${Number(value || 0).toLocaleString("en")} ${Math.abs(value) === 1 ? "point" : "points"}`;
}

export function clockTime(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function ordinal(rank) {
  const tens = rank % 100;
  if (tens >= 11 && tens <= 13) return `${rank}th`;
  return `${rank}${{ 1: "st", 2: "nd", 3: "rd" }[rank % 10] || "th"}`;
}

// The leaderboard: an ordered list, the player's own row highlighted and said ("you"),
// and their own place below the list when it is not in the top.
export function leaderboardList(rows, you, { label, limit } = {}) {
  const shown = limit ? rows.slice(0, limit) : rows;
  const list = h("ol", { class: "board", "aria-label": label || null });
  for (const row of shown) {
    const mine = Boolean(you && you.rank === row.rank);
    list.append(
      h(
        "li",
        { class: mine ? "board-row is-you" : "board-row", "aria-current": mine ? "true" : null },
        h("span", { class: "board-rank", text: `${row.rank}.` }),
        h("span", { class: "board-name" }, row.displayName, mine ? h("span", { class: "you-tag", text: " (you)" }) : null),
        h("span", { class: "board-score", text: points(row.score) }),
      ),
    );
  }
  const inList = you && shown.some((row) => row.rank === you.rank);
  if (you && you.rank && !inList) {
    list.append(
      h(
        "li",
        { class: "board-row is-you board-row-apart", "aria-current": "true" },
        h("span", { class: "board-rank", text: `${you.rank}.` }),
        h("span", { class: "board-name", text: "You" }),
        h("span", { class: "board-score", text: points(you.score) }),
      ),
    );
  }
  return list;
}

// A countdown drawn against the server clock: `update()` is cheap and may run often; the
// text changes once a second. Not a live region (it would speak every second): the
// pages announce a few moments instead.
export class Countdown {
  constructor(element, clock, { onSecond } = {}) {
    this.element = element;
    this.clock = clock;
    this.onSecond = onSecond;
    this.shown = null;
    this.timer = null;
  }

  // Draws into a new element (the pages redraw their stage) from now on.
  attach(element) {
    this.element = element;
    this.shown = undefined;
    this.update();
  }

  follow(getTarget) {
    this.getTarget = getTarget;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.update(), 200);
    this.update();
  }

  stop() {
    clearInterval(this.timer);
  }

  update() {
    const target = this.getTarget ? this.getTarget() : null;
    let seconds = null;
    if (target && typeof target.frozen === "number") seconds = target.frozen;
    else if (target && target.at) seconds = this.clock.secondsUntil(target.at);
    if (seconds === this.shown || !this.element) return;
    this.shown = seconds;
    this.element.textContent = seconds === null ? "" : String(seconds);
    this.element.dataset.seconds = seconds === null ? "" : String(seconds);
    if (this.onSecond && seconds !== null) this.onSecond(seconds);
  }
}
