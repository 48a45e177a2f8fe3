// The emulator's dashboard: one page, no build step, no request beyond the emulator.
// Everything an agent or a caller wrote is shown as text (textContent), never as HTML.

const state = {
  runtimes: [],
  sessions: [],
  invocations: new Map(), // seq -> record
  warnings: new Map(),
  selected: null, // a session id
  rates: null,
};
const MAX_ROWS = 200;
const MAX_LOG_LINES = 500;

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

async function api(path, options = {}) {
  const answer = await fetch(path, {
    ...options,
    headers: { "Content-Type": "application/json", ...(options.headers || {}) },
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(body.message || `${answer.status}`);
  return body;
}

function left(seconds) {
  if (seconds == null) return "—";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m ${String(r).padStart(2, "0")}s`;
}

// -- runtimes -----------------------------------------------------------------------------

function renderRuntimes() {
  const body = document.querySelector("#runtimes tbody");
  body.replaceChildren(
    ...state.runtimes.map((runtime) => {
      const count = el("input", { type: "number", min: "0", value: "1", class: "narrow", "aria-label": `calls to fail on ${runtime.name}` });
      const code = el("input", { value: "InternalServerException", "aria-label": `error code for ${runtime.name}` });
      const note = el("span", { class: "muted" }, describeFaults(runtime.faults));
      const setFaults = async () => {
        try {
          const answer = await api(`/_emulator/runtimes/${encodeURIComponent(runtime.name)}/faults`, {
            method: "PUT",
            body: JSON.stringify({ fail_next: Number(count.value), fail_code: code.value }),
          });
          runtime.faults = answer.faults;
          note.textContent = describeFaults(answer.faults);
        } catch (error) {
          note.textContent = `refused: ${error.message}`;
        }
      };
      return el(
        "tr",
        { "data-runtime": runtime.name },
        el("td", {}, runtime.name),
        el("td", {}, runtime.protocol),
        el("td", {}, runtime.auth),
        el("td", {}, state.network),
        el("td", {}, runtime.quota ? `${runtime.quota}/s` : "none"),
        el("td", {}, `${left(runtime.idleTimeout)} / ${left(runtime.maxLifetime)}`),
        el("td", { class: "faults" }, "fail next ", count, " with ", code, " ",
          el("button", { type: "button", class: "set-faults", onclick: setFaults }, "Set"), " ", note),
        el("td", {}, el("button", { type: "button", class: "invoke", onclick: () => openInvoke(runtime) }, "Invoke…")),
      );
    }),
  );
}

function describeFaults(faults) {
  if (!faults) return "";
  const parts = [];
  if (faults.fail_next) parts.push(`next ${faults.fail_next} fail: ${faults.fail_code}`);
  if (faults.latency) parts.push(`+${faults.latency}s`);
  if (faults.throttle_per_second != null) parts.push(`throttle ${faults.throttle_per_second}/s`);
  if (faults.fail_start) parts.push("instances never start");
  return parts.length ? `(${parts.join(", ")})` : "(none)";
}

// -- invoke panel ---------------------------------------------------------------------------

let invoking = null;

function openInvoke(runtime) {
  invoking = runtime;
  const dialog = document.getElementById("invoke-dialog");
  document.getElementById("invoke-runtime").textContent = runtime.name;
  document.getElementById("invoke-mcp").hidden = runtime.protocol !== "MCP";
  document.getElementById("invoke-http").hidden = runtime.protocol === "MCP";
  document.getElementById("invoke-answer").textContent = "";
  dialog.showModal();
}

async function sendInvoke(event) {
  event.preventDefault();
  const form = event.target;
  const out = document.getElementById("invoke-answer");
  const body = { runtime: invoking.name, sessionId: form.sessionId.value || null };
  try {
    if (invoking.protocol === "MCP") {
      body.tool = form.tool.value;
      body.arguments = JSON.parse(form.arguments.value || "{}");
    } else {
      body.payload = form.payload.value;
    }
  } catch (error) {
    out.textContent = `The arguments are not JSON: ${error.message}`;
    return;
  }
  out.textContent = "…";
  try {
    const answer = await api("/_emulator/invoke", { method: "POST", body: JSON.stringify(body) });
    out.textContent = `${answer.status} · session ${answer.sessionId}\n${answer.answer}`;
  } catch (error) {
    out.textContent = `refused: ${error.message}`;
  }
}

// -- sessions -------------------------------------------------------------------------------

function renderSessions() {
  const now = Date.now() / 1000;
  const body = document.querySelector("#sessions tbody");
  body.replaceChildren(
    ...state.sessions.map((session) => {
      const stopped = session.state === "stopped";
      const label = stopped ? `stopped (${session.endedReason})` : session.state;
      const row = el(
        "tr",
        { "data-session": session.sessionId, class: session.sessionId === state.selected ? "selected" : "" },
        el("td", {}, session.runtime),
        el("td", { class: "mono", title: session.sessionId }, session.sessionId.slice(0, 8)),
        el("td", {}, el("span", { class: `badge state-${session.state}` }, label)),
        el("td", {}, stopped || session.idleEndsAt == null ? "—" : left(session.idleEndsAt - now)),
        el("td", {}, stopped || session.lifetimeEndsAt == null ? "—" : left(session.lifetimeEndsAt - now)),
        el("td", {}, session.invocations ?? "—"),
        el("td", {}, (session.vcpuSeconds ?? 0).toFixed(2)),
        el("td", {}, (session.gbSeconds ?? 0).toFixed(2)),
        el("td", {}, `$${(session.costUsd ?? 0).toFixed(6)}`),
      );
      if (session.state !== "starting") row.addEventListener("click", () => select(session.sessionId));
      return row;
    }),
  );
}

async function select(sessionId) {
  state.selected = sessionId;
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-id").textContent = sessionId;
  renderSessions();
  const { lines } = await api(`/_emulator/sessions/${encodeURIComponent(sessionId)}/logs`);
  const logs = document.getElementById("logs");
  logs.replaceChildren(...lines.map((entry) => el("div", { class: "log-line" }, entry.line)));
  await loadTrace();
}

function appendLog(entry) {
  if (entry.session !== state.selected) return;
  const logs = document.getElementById("logs");
  logs.append(el("div", { class: "log-line" }, entry.line));
  while (logs.childElementCount > MAX_LOG_LINES) logs.firstElementChild.remove();
  logs.scrollTop = logs.scrollHeight;
}

// -- traces ---------------------------------------------------------------------------------

async function loadTrace() {
  if (!state.selected) return;
  const { spans } = await api(`/_emulator/sessions/${encodeURIComponent(state.selected)}/traces`);
  renderTrace(spans);
}

function renderTrace(spans) {
  const box = document.getElementById("trace");
  if (!spans.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No spans yet."));
    return;
  }
  const start = Math.min(...spans.map((s) => s.start_ns));
  const end = Math.max(...spans.map((s) => s.end_ns));
  const width = Math.max(1, end - start);
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map();
  for (const span of spans) {
    const parent = ids.has(span.parent_span_id) ? span.parent_span_id : "";
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(span);
  }
  const rows = [];
  const walk = (parent, depth) => {
    for (const span of (children.get(parent) || []).sort((a, b) => a.start_ns - b.start_ns)) {
      const left = ((span.start_ns - start) / width) * 100;
      const size = Math.max(0.5, ((span.end_ns - span.start_ns) / width) * 100);
      const ms = ((span.end_ns - span.start_ns) / 1e6).toFixed(1);
      const bar = el("div", { class: `bar source-${span.source} status-${span.status}` });
      bar.style.marginLeft = `${left}%`;
      bar.style.width = `${size}%`;
      const name = el("div", { class: "span-name", title: JSON.stringify(span.attributes) },
        `${span.name} · ${span.service} · ${ms} ms`);
      name.style.paddingLeft = `${depth * 14}px`;
      rows.push(el("div", { class: "span", "data-source": span.source }, name, el("div", { class: "lane" }, bar)));
      if (depth < 32) walk(span.span_id, depth + 1);
    }
  };
  walk("", 0);
  box.replaceChildren(...rows);
}

// -- invocations ------------------------------------------------------------------------------

function renderInvocations() {
  const records = [...state.invocations.values()].sort((a, b) => b.seq - a.seq).slice(0, MAX_ROWS);
  const body = document.querySelector("#invocations tbody");
  body.replaceChildren(
    ...records.flatMap((record) => {
      const row = el(
        "tr",
        { "data-seq": record.seq, class: "invocation" },
        el("td", {}, new Date(record.at * 1000).toLocaleTimeString()),
        el("td", {}, record.operation),
        el("td", {}, record.runtime ?? ""),
        el("td", { class: "mono", title: record.session ?? "" }, (record.session ?? "").slice(0, 8)),
        el("td", { class: "caller" }, record.caller ?? ""),
        el("td", {}, record.method ?? ""),
        el("td", { class: record.status >= 400 ? "error" : "" }, record.status ?? "…"),
        el("td", {}, record.duration_ms == null ? "" : record.duration_ms.toFixed(1)),
      );
      const detail = el(
        "tr",
        { class: "invocation-detail", hidden: "" },
        el("td", { colspan: "8" },
          el("h4", {}, "Request"), el("pre", {}, record.request || "—"),
          el("h4", {}, "Answer"), el("pre", {}, record.answer || "—"),
          el("h4", {}, `Model calls (${record.model_calls.length})`),
          el("ul", {}, ...record.model_calls.map((call) => el("li", {},
            `${call.operation} ${call.modelId}${call.error ? ` → ${call.error}` : ""}` +
            `${call.toolCalls.length ? ` · tools: ${call.toolCalls.join(", ")}` : ""}` +
            `${call.text ? ` · “${call.text}”` : ""}`)))),
      );
      row.addEventListener("click", () => { detail.hidden = !detail.hidden; });
      return [row, detail];
    }),
  );
}

// -- warnings -----------------------------------------------------------------------------

function renderWarnings() {
  const list = document.getElementById("warnings");
  document.getElementById("warnings-section").hidden = state.warnings.size === 0;
  list.replaceChildren(...[...state.warnings.values()].map((w) => el("li", { class: "warning" }, w.message)));
}

// -- live -----------------------------------------------------------------------------------

async function loadState() {
  const snapshot = await api("/_emulator/state");
  state.runtimes = snapshot.runtimes;
  state.sessions = snapshot.sessions;
  state.network = snapshot.network;
  state.invocations = new Map(snapshot.invocations.map((r) => [r.seq, r]));
  state.warnings = new Map(snapshot.warnings.map((w) => [w.key, w]));
  const rates = snapshot.rates;
  document.getElementById("network").textContent = `network: ${snapshot.network}`;
  document.getElementById("rates").textContent =
    `Compute as AgentCore bills it: CPU actually used (vCPU-s) and memory held (GB-s, at least 128 MB), ` +
    `priced at $${rates.vcpuHour} per vCPU-hour and $${rates.gbHour} per GB-hour (${rates.source}).`;
  renderRuntimes();
  renderSessions();
  renderInvocations();
  renderWarnings();
  if (state.selected) await select(state.selected);
}

function connect() {
  const live = document.getElementById("live");
  const source = new EventSource("/_emulator/events");
  source.addEventListener("open", () => { live.textContent = "live"; live.className = "badge on"; });
  source.addEventListener("error", () => { live.textContent = "reconnecting…"; live.className = "badge off"; });
  source.addEventListener("invocation", (event) => {
    const record = JSON.parse(event.data);
    state.invocations.set(record.seq, record);
    while (state.invocations.size > MAX_ROWS) state.invocations.delete(Math.min(...state.invocations.keys()));
    renderInvocations();
  });
  source.addEventListener("sessions", (event) => { state.sessions = JSON.parse(event.data); renderSessions(); });
  source.addEventListener("log", (event) => appendLog(JSON.parse(event.data)));
  source.addEventListener("spans", (event) => {
    if (JSON.parse(event.data).session === state.selected) loadTrace();
  });
  source.addEventListener("warning", (event) => {
    const warning = JSON.parse(event.data);
    state.warnings.set(warning.key, warning);
    renderWarnings();
  });
  source.addEventListener("resync", () => loadState());
}

document.getElementById("invoke-form").addEventListener("submit", sendInvoke);
document.getElementById("invoke-close").addEventListener("click", () => document.getElementById("invoke-dialog").close());
setInterval(renderSessions, 1000); // the countdowns
loadState().then(connect);
