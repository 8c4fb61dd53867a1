// The fakeapi dashboard: renders the snapshots GET /_fakeapi/events streams, and drives the fake
// through the admin API's own routes. Every URL is relative to the page (/_fakeapi/).
"use strict";

const opened = new Set(); // the <details> the user opened, kept open across renders

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== undefined && child !== null) node.append(child);
  }
  return node;
}

function iso(t) {
  return new Date(t * 1000).toISOString().replace("T", " ").replace("Z", " UTC");
}

function timeOfDay(t) {
  return new Date(t * 1000).toISOString().slice(11, 23);
}

function stateBadge(state) {
  return el("span", { class: `state state-${state}` }, state);
}

function statusBadge(status) {
  return el("span", { class: `state status-${String(status)[0]}` }, String(status));
}

function bodyDetails(key, label, text) {
  if (!text) return null;
  const details = el("details", { open: opened.has(key) }, el("summary", {}, label), el("pre", {}, text));
  details.addEventListener("toggle", () => (details.open ? opened.add(key) : opened.delete(key)));
  return details;
}

function replaceRows(table, rows, columns, emptyText) {
  const body = document.querySelector(`#${table} tbody`);
  if (rows.length === 0) rows = [el("tr", { class: "empty" }, el("td", { colspan: columns }, emptyText))];
  const same = rows.length === body.children.length && rows.every((row, i) => row === body.children[i]);
  if (!same) body.replaceChildren(...rows);
}

function failure(error) {
  if (!error) return null;
  const words = [error.code, error.message || error.reason.replaceAll("_", " ")].filter(Boolean).join(": ");
  return el("div", { class: "muted failure" }, words);
}

// A task's row is made once and updated in place, so that its buttons stay the same elements while
// snapshots arrive (up to five a second while tasks run): a click is never lost to a re-render.
// Ids repeat after a reset with the same seed: a row is the task's with that id, API, model and start.
const taskRows = new Map();

function taskKey(task) {
  return `${task.id} ${task.api} ${task.model} ${task.created_at}`;
}

function taskRow(task) {
  const key = taskKey(task);
  let row = taskRows.get(key);
  if (row === undefined) {
    const complete = el("button", { type: "button", class: "complete" }, "Complete");
    complete.addEventListener("click", () => act(`tasks/${encodeURIComponent(task.id)}/complete`));
    const fail = el("button", { type: "button", class: "fail" }, "Fail");
    fail.addEventListener("click", () => act(`tasks/${encodeURIComponent(task.id)}/fail`, {}));
    row = el(
      "tr",
      { "data-task-id": task.id },
      el("td", { class: "id" }, task.id),
      el("td", {}, task.api),
      el("td", {}, task.model),
      el("td", { class: "task-state" }),
      el("td", { class: "task-progress" }),
      el("td", { class: "mono" }, timeOfDay(task.created_at)),
      el("td", { class: "task-timeline" }),
      el("td", { class: "actions" }, complete, " ", fail),
    );
    taskRows.set(key, row);
  }
  row.dataset.state = task.state;
  row.querySelector(".task-state").replaceChildren(stateBadge(task.state), failure(task.error) || "");
  row.querySelector(".task-progress").replaceChildren(
    el("span", { class: "progress", title: `${task.progress}%` }, el("span", { style: `width: ${task.progress}%` })),
    ` ${task.progress}%`,
  );
  row.querySelector(".task-timeline").replaceChildren(
    el(
      "div",
      { class: "timeline" },
      ...task.timeline.map((step) =>
        el("span", { title: iso(step.at) }, stateBadge(step.state), ` +${(step.at - task.created_at).toFixed(1)}s`),
      ),
    ),
  );
  for (const button of row.querySelectorAll("button")) button.disabled = task.terminal;
  return row;
}

function journalRow(entry, position) {
  const request = `${entry.method} ${entry.path}${entry.query ? "?" + entry.query : ""}`;
  const notes = (entry.notes || []).join("; ");
  const task = [entry.api, entry.task_id, entry.state].filter(Boolean).join(" · ");
  return el(
    "tr",
    {},
    el("td", { class: "mono" }, timeOfDay(entry.at)),
    el("td", { class: "mono" }, request, notes ? el("div", { class: "muted" }, notes) : null),
    el("td", {}, statusBadge(entry.status)),
    el("td", { class: "mono" }, task),
    el(
      "td",
      {},
      bodyDetails(`journal-${position}-request`, entry.truncated ? "request (cut)" : "request", entry.body),
      bodyDetails(`journal-${position}-response`, entry.response_truncated ? "response (cut)" : "response", entry.response_body),
    ),
  );
}

function deliveryRow(attempt, position) {
  const outcome = attempt.delivered ? "delivered" : attempt.error || "not delivered";
  return el(
    "tr",
    {},
    el("td", { class: "mono" }, timeOfDay(attempt.at)),
    el("td", { class: "id" }, attempt.task_id),
    el("td", { class: "mono" }, attempt.url),
    el("td", {}, String(attempt.attempt)),
    el("td", {}, stateBadge(attempt.state)),
    el("td", {}, attempt.status === null ? null : statusBadge(attempt.status), " ", outcome, attempt.note ? ` (${attempt.note})` : null),
    el("td", {}, bodyDetails(`delivery-${position}`, attempt.truncated ? "body (cut)" : "body", attempt.body)),
  );
}

const shownListings = new Map();

function changed(name, listing) {
  const text = JSON.stringify(listing);
  if (shownListings.get(name) === text) return false;
  shownListings.set(name, text);
  return true;
}

function showClock(clock) {
  document.getElementById("clock-now").textContent = iso(clock.now);
  document.getElementById("clock-mode").textContent = clock.virtual ? "virtual clock" : `system clock ×${clock.speed}`;
}

function render(snapshot) {
  showClock(snapshot.clock);
  document.getElementById("seed").textContent = String(snapshot.seed);
  document.getElementById("scenario-description").textContent = snapshot.scenario;
  document.getElementById("surprises").textContent = String(snapshot.surprises);
  document.getElementById("violations").textContent = String(snapshot.violations);
  const select = document.getElementById("scenario-select");
  if (select.options.length === 1) select.append(...snapshot.scenarios.map((name) => el("option", { value: name }, name)));

  const { tasks, journal, deliveries } = snapshot;
  const newest = (listing) => (listing.total > listing.items.length ? `(newest ${listing.items.length} of ${listing.total})` : `(${listing.total})`);
  document.getElementById("tasks-total").textContent = newest(tasks);
  document.getElementById("journal-total").textContent = newest(journal);
  document.getElementById("deliveries-total").textContent = newest(deliveries);
  const shown = new Set(tasks.items.map(taskKey));
  for (const key of taskRows.keys()) if (!shown.has(key)) taskRows.delete(key);
  replaceRows("tasks", tasks.items.map(taskRow), 8, "no tasks yet: submit a job to any API");
  // Entries never change once logged: their rows are made again only when the newest ones did.
  if (changed("journal", journal)) {
    replaceRows("journal", journal.items.map((entry, i) => journalRow(entry, journal.total - i)), 5, "no API requests yet");
  }
  if (changed("deliveries", deliveries)) {
    replaceRows("deliveries", deliveries.items.map((attempt, i) => deliveryRow(attempt, deliveries.total - i)), 7, "no callbacks sent yet");
  }
}

function say(text, kind) {
  const message = document.getElementById("message");
  message.textContent = text;
  message.className = kind === "info" ? "message info" : "message";
  message.hidden = !text;
}

// An admin request; the snapshot stream shows its effect. A refusal shows the admin API's words.
async function act(path, body) {
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json().catch(() => null);
    if (!response.ok) {
      say(`${path}: ${answer && answer.error ? answer.error.message : response.status + " " + response.statusText}`);
      return false;
    }
    say("");
    return true;
  } catch (error) {
    say(`${path}: ${error}`);
    return false;
  }
}

function connect() {
  const connection = document.getElementById("connection");
  const events = new EventSource("events");
  events.onopen = () => {
    connection.dataset.state = "live";
    connection.textContent = "live";
  };
  events.onerror = () => {
    connection.dataset.state = "lost";
    connection.textContent = "reconnecting…";
  };
  events.onmessage = (event) => render(JSON.parse(event.data));
  // Between snapshots, the clock alone: a system clock's time moves when nothing else does.
  events.addEventListener("clock", (event) => showClock(JSON.parse(event.data)));
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.shift")) {
    button.addEventListener("click", () => act("clock/shift", { seconds: Number(button.dataset.seconds) }));
  }
  document.getElementById("shift-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act("clock/shift", { seconds: Number(document.getElementById("shift-seconds").value) });
  });
  document.getElementById("scenario-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = document.getElementById("scenario-select").value;
    if (await act("load_scenario", { scenario: name })) say(`loaded the bundled scenario ${name}: a fresh run`, "info");
  });
  connect();
});
