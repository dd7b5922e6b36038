// chunkwise dashboard: plain ES module, no build step, every asset served by chunkwise.
// Views are chosen by the URL's hash (#/, #/new, #/job/<id>, #/history, #/workers).
// Job progress arrives over Server-Sent Events; only /health, stats and workers refresh
// on a timer.

const main = document.getElementById("main");
const offline = document.getElementById("offline");
const healthBadge = document.getElementById("health");
const numbers = new Intl.NumberFormat();
const TERMINAL = new Set(["SUCCESS", "FAILURE", "CANCELLED"]);
const STATES = ["PENDING", "STARTED", "PROGRESS", "SUCCESS", "FAILURE", "CANCELLED"];
const REFRESH_MS = 5000;

let cleanups = [];
function onLeave(fn) { cleanups.push(fn); }
function leaveView() { cleanups.forEach((fn) => fn()); cleanups = []; }

// ---- Talking to the API -------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `HTTP ${status}`);
    this.status = status;
    this.field = body?.field ?? null;
  }
}

// JSON with exact integers: a number past 2^53 becomes a BigInt, read from its source text.
function parseExact(text) {
  return JSON.parse(text, (key, value, context) => {
    if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source
        && /^-?\d+$/.test(context.source)) {
      return BigInt(context.source);
    }
    return value;
  });
}

// Who is signed in (null: nobody), and whether this service asks for accounts at all.
const session = { account: null, authOn: false };

function cookie(name) {
  const found = document.cookie.split("; ").find((part) => part.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

async function api(path, options = {}) {
  let response;
  const method = (options.method || "GET").toUpperCase();
  const csrf = method === "GET" ? null : cookie("chunkwise_csrf");
  try {
    response = await fetch(path, {
      ...options,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(options.body ? { "Content-Type": "application/json" } : {}),
        ...(csrf ? { "X-CSRF-Token": csrf } : {}),
      },
    });
  } catch (error) {
    setOnline(false);
    throw new ApiError(0, { detail: "the API does not answer" });
  }
  setOnline(true);
  const text = await response.text();
  const body = text ? parseExact(text) : null;
  if (response.status === 401 && !path.startsWith("/api/auth/")) {
    session.account = null;
    session.authOn = true;
    renderAccount();
    if (!location.hash.startsWith("#/signin")) location.hash = "#/signin";
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// ---- Accounts -------------------------------------------------------------------------

async function loadSession() {
  try {
    session.account = await api("/api/auth/me");
    session.authOn = true;
  } catch {
    session.account = null;
    try {
      await fetch("/api/jobs?limit=1", { credentials: "same-origin" }).then((r) => {
        session.authOn = r.status === 401;
      });
    } catch { /* the banner says the API does not answer */ }
  }
  renderAccount();
}

function renderAccount() {
  const box = document.getElementById("account");
  const tokens = document.querySelector('nav a[data-nav="tokens"]');
  if (tokens) tokens.hidden = !session.account;
  if (!box) return;
  if (session.account) {
    box.innerHTML = `<span class="muted" id="who">${esc(session.account.email)}</span>
      <button type="button" class="secondary small" id="sign-out">Sign out</button>`;
    document.getElementById("sign-out").addEventListener("click", signOut);
  } else if (session.authOn) {
    box.innerHTML = `<a href="#/signin" id="sign-in-link">Sign in</a>`;
  } else {
    box.innerHTML = "";
  }
}

async function signOut() {
  try { await api("/api/auth/session", { method: "DELETE" }); } catch { /* signed out anyway */ }
  session.account = null;
  renderAccount();
  location.hash = "#/signin";
}

async function signInView() {
  main.innerHTML = `<h1>Sign in</h1>
    <form class="panel narrow" id="signin-form" novalidate aria-label="Sign in or create an account">
      <div class="field"><label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required></div>
      <div class="field"><label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required minlength="8">
        <div class="hint">At least 8 characters.</div></div>
      <div class="error" id="signin-error" role="alert"></div>
      <div class="form-actions">
        <button type="submit" id="sign-in">Sign in</button>
        <button type="button" class="secondary" id="register">Create account</button>
      </div>
      <p class="muted">Or try chunkwise without an account: the <a href="#/">Try it</a> box runs a small job.</p>
    </form>`;
  const form = document.getElementById("signin-form");
  const error = document.getElementById("signin-error");
  const credentials = () => JSON.stringify({
    email: document.getElementById("email").value.trim(),
    password: document.getElementById("password").value,
  });
  const open = async () => {
    session.account = await api("/api/auth/session", { method: "POST", body: credentials() });
    session.authOn = true;
    renderAccount();
    location.hash = "#/";
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    try { await open(); } catch (err) { error.textContent = err.message; }
  });
  document.getElementById("register").addEventListener("click", async () => {
    error.textContent = "";
    try {
      await api("/api/auth/register", { method: "POST", body: credentials() });
      await open();
    } catch (err) { error.textContent = err.message; }
  });
}

async function tokensView() {
  main.innerHTML = `<h1>API tokens</h1>
    <section class="panel" aria-labelledby="new-token-title">
      <h2 id="new-token-title">New token</h2>
      <form class="form-actions" id="token-form" aria-label="Create an API token">
        <label class="sr-only" for="token-name">Token name</label>
        <input id="token-name" name="name" placeholder="a name, e.g. laptop script" required maxlength="100">
        <button type="submit">Create token</button>
      </form>
      <div id="token-new" hidden>
        <p>Copy it now: it is shown this once.</p>
        <div class="form-actions"><code class="token-box" id="token-value"></code>
          <button type="button" class="secondary" id="token-copy">Copy</button></div>
        <p class="muted">Use it like this:</p>
        <pre class="token-box" id="token-curl"></pre>
      </div>
      <div class="error" id="token-error" role="alert"></div>
    </section>
    <section class="panel gap-top" aria-labelledby="tokens-title">
      <h2 id="tokens-title">Your tokens</h2>
      <div class="table-wrap"><table aria-label="API tokens"><thead><tr><th>Name</th><th>Created</th><th></th></tr></thead>
        <tbody id="tokens"></tbody></table></div>
    </section>`;
  const load = async () => {
    const rows = document.getElementById("tokens");
    try {
      const tokens = await api("/api/auth/tokens");
      rows.innerHTML = tokens.length ? tokens.map((t) => `<tr data-token="${t.id}"><td>${esc(t.name)}</td>
        <td>${fmtTime(t.created_at)}</td><td><button type="button" class="danger small" data-revoke="${t.id}"
        aria-label="Revoke ${esc(t.name)}">Revoke</button></td></tr>`).join("")
        : `<tr><td colspan="3" class="muted">No tokens yet.</td></tr>`;
      rows.querySelectorAll("[data-revoke]").forEach((button) => button.addEventListener("click", async () => {
        await api(`/api/auth/tokens/${button.dataset.revoke}`, { method: "DELETE" });
        await load();
      }));
    } catch (err) { rows.innerHTML = `<tr><td colspan="3" class="error">${esc(err.message)}</td></tr>`; }
  };
  document.getElementById("token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = document.getElementById("token-error");
    error.textContent = "";
    try {
      const made = await api("/api/auth/tokens", {
        method: "POST", body: JSON.stringify({ name: document.getElementById("token-name").value.trim() }),
      });
      document.getElementById("token-new").hidden = false;
      document.getElementById("token-value").textContent = made.token;
      document.getElementById("token-curl").textContent = `curl -H "Authorization: Bearer ${made.token}" \\
  -X POST ${location.origin}/api/jobs -H 'Content-Type: application/json' \\
  -d '{"kind":"sum_range","params":{"n":1000},"chunks":4}'`;
      document.getElementById("token-name").value = "";
      await load();
    } catch (err) { error.textContent = err.message; }
  });
  document.getElementById("token-copy").addEventListener("click", async () => {
    const text = document.getElementById("token-value").textContent;
    try { await navigator.clipboard.writeText(text); document.getElementById("token-copy").textContent = "Copied"; }
    catch { window.getSelection().selectAllChildren(document.getElementById("token-value")); }
  });
  await load();
}

function setOnline(online) { offline.hidden = online; }

// ---- Formatting ---------------------------------------------------------------------

function fmt(value) {
  if (typeof value === "bigint") return value.toLocaleString();
  if (typeof value === "number") {
    return Number.isInteger(value) ? numbers.format(value)
      : value.toLocaleString(undefined, { maximumFractionDigits: 4 });
  }
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value, (k, v) => (typeof v === "bigint" ? v.toString() : v));
  return String(value);
}
function fmtSeconds(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return "—";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toLocaleString(undefined, { maximumFractionDigits: 2 })} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s % 60)} s`;
}
function fmtTime(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }
function badgeOf(state) {
  const group = { PENDING: "pending", STARTED: "running", PROGRESS: "running",
    SUCCESS: "succeeded", FAILURE: "failed", CANCELLED: "cancelled" }[state] || "pending";
  return `<span class="badge ${group}" data-state="${state}">${group}</span>`;
}
function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function headline(result) {
  if (!result) return null;
  const keys = Object.keys(result).filter((k) => k !== "duration_sec");
  return keys.length ? result[keys[0]] : null;
}

// ---- Health dot ----------------------------------------------------------------------

async function checkHealth() {
  try {
    const response = await fetch("/health", { headers: { Accept: "application/json" } });
    setOnline(true);
    const body = await response.json();
    const ok = response.ok && body.status === "ok";
    healthBadge.className = `health ${ok ? "ok" : "down"}`;
    healthBadge.querySelector(".health-text").textContent = ok
      ? `${body.workers} worker${body.workers === 1 ? "" : "s"} · ${body.processes} process${body.processes === 1 ? "" : "es"}`
      : `down: broker ${body.broker}, store ${body.database}`;
    healthBadge.title = ok ? "The service is up" : "A part of the service is down";
  } catch {
    setOnline(false);
    healthBadge.className = "health down";
    healthBadge.querySelector(".health-text").textContent = "unreachable";
    healthBadge.title = "The API does not answer";
  }
}

// ---- Progress of one job: a bar and, optionally, a chunk map ---------------------------

function progressHtml(id) {
  return `<div class="progress" id="${id}-bar" role="progressbar" aria-label="Job progress"
      aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><span></span></div>
    <div class="progress-text"><span id="${id}-pct">0%</span><span id="${id}-chunks">0/0 chunks</span></div>`;
}
function showProgress(id, completed, total, ended) {
  const pct = total ? Math.floor((100 * completed) / total) : 0;
  const bar = document.getElementById(`${id}-bar`);
  if (!bar) return;
  bar.setAttribute("aria-valuenow", String(pct));
  bar.querySelector("span").style.width = `${pct}%`;
  bar.classList.toggle("done", ended && completed === total);
  document.getElementById(`${id}-pct`).textContent = `${pct}%`;
  document.getElementById(`${id}-chunks`).textContent = `${fmt(completed)}/${fmt(total)} chunks`;
}

// Follow a job's events; calls onProgress(data) per event and onEnd(job) once.
function follow(jobId, { onProgress, onEnd, events }) {
  const source = new EventSource(events || `/api/jobs/${jobId}/events`);
  let ended = false;
  source.addEventListener("progress", (e) => { setOnline(true); onProgress(parseExact(e.data)); });
  source.addEventListener("end", (e) => {
    ended = true;
    source.close();
    onEnd(parseExact(e.data).job);
  });
  source.onerror = () => { if (!ended && source.readyState === EventSource.CLOSED) setOnline(false); };
  return () => source.close();
}

// ---- Views ----------------------------------------------------------------------------

function tryItPanel(note) {
  return `<section class="panel tryit" aria-labelledby="try-title">
    <h2 id="try-title">Try it</h2>
    <p class="muted">The sum of 1..1,000, split into 4 chunks that run in parallel.${note}</p>
    <button id="try-run" type="button">Run sum of 1..1000</button>
    <div id="try-out" hidden>
      ${progressHtml("try")}
      <div class="result-big" id="try-result" aria-live="polite"></div>
    </div>
  </section>`;
}

async function homeView() {
  const signedOut = session.authOn && !session.account;
  main.innerHTML = signedOut ? `
    <h1>Dashboard</h1>
    <div class="grid">
      ${tryItPanel(" No account needed.")}
      <section class="panel" aria-labelledby="account-title">
        <h2 id="account-title">Your jobs</h2>
        <p><a href="#/signin">Sign in or create an account</a> to run any job, follow your history and make API tokens.</p>
      </section>
    </div>` : `
    <h1>Dashboard</h1>
    <section class="cards" aria-label="Statistics" id="stats">
      ${["Total jobs", "Succeeded", "Failed", "Average duration"].map((label) =>
        `<div class="card"><div class="label">${label}</div><div class="value">—</div></div>`).join("")}
    </section>
    <div class="grid">
      ${tryItPanel("")}
      <section class="panel" aria-labelledby="recent-title">
        <h2 id="recent-title">Recent jobs</h2>
        <div id="recent" class="muted">Loading…</div>
      </section>
    </div>`;
  document.getElementById("try-run").addEventListener("click", runTryIt);
  if (signedOut) return;
  const refresh = async () => {
    await Promise.all([loadStats(), loadRecent()]);
  };
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  onLeave(() => clearInterval(timer));
}

async function loadStats() {
  try {
    const stats = await api("/api/stats");
    const values = [stats.jobs.total, stats.succeeded, stats.failed];
    const cards = document.querySelectorAll("#stats .value");
    if (!cards.length) return;
    values.forEach((v, i) => { cards[i].textContent = fmt(v); });
    cards[3].textContent = fmtSeconds(stats.average_duration_sec);
  } catch { /* shown by the banner */ }
}

async function loadRecent() {
  const box = document.getElementById("recent");
  if (!box) return;
  try {
    const page = await api("/api/jobs?limit=5");
    box.innerHTML = page.items.length ? `<table><tbody>${page.items.map((job) => `
      <tr><td>${badgeOf(job.state)}</td><td><a href="#/job/${job.job_id}">${esc(job.kind)}</a></td>
      <td class="num">${fmt(headline(job.result))}</td></tr>`).join("")}</tbody></table>`
      : "No jobs yet.";
  } catch { box.textContent = "Could not load the jobs."; }
}

async function runTryIt() {
  const button = document.getElementById("try-run");
  const out = document.getElementById("try-out");
  const result = document.getElementById("try-result");
  button.disabled = true;
  out.hidden = false;
  result.textContent = "";
  showProgress("try", 0, 4, false);
  try {
    const accepted = await api("/api/demo/jobs", {
      method: "POST",
      body: JSON.stringify({ kind: "sum_range", params: { n: 1000 }, chunks: 4 }),
    });
    const stop = follow(accepted.job_id, {
      events: `/api/demo/jobs/${accepted.job_id}/events`,
      onProgress: (p) => showProgress("try", p.completed, p.total, false),
      onEnd: (job) => {
        showProgress("try", job.progress.completed, job.progress.total, true);
        result.textContent = job.state === "SUCCESS" ? fmt(job.result.sum) : `${job.state}: ${job.error ?? ""}`;
        button.disabled = false;
      },
    });
    onLeave(stop);
  } catch (error) {
    result.textContent = error.message;
    button.disabled = false;
  }
}

// New job: a form built from the kind's JSON schema, checked as the API checks it.
async function newJobView() {
  main.innerHTML = `<h1>New job</h1><form class="panel" id="job-form" novalidate aria-label="New job">
    <div class="field"><label for="kind">Kind</label><select id="kind" name="kind"></select>
      <div class="hint" id="kind-hint"></div><div class="error" id="err-kind" role="alert"></div></div>
    <div id="params"></div>
    <div class="field"><label for="chunks">Chunks</label>
      <input id="chunks" name="chunks" type="number" inputmode="numeric" required aria-describedby="chunks-hint err-chunks">
      <div class="hint" id="chunks-hint"></div><div class="error" id="err-chunks" role="alert"></div></div>
    <div class="field"><label for="callback_url">Callback URL (optional)</label>
      <input id="callback_url" name="callback_url" type="url" inputmode="url" aria-describedby="callback-hint err-callback_url">
      <div class="hint" id="callback-hint">An http(s) URL of yours: when the job ends, its final view is POSTed there, signed with this service's webhook key.</div>
      <div class="error" id="err-callback_url" role="alert"></div></div>
    <div class="error" id="err-form" role="alert"></div>
    <div class="form-actions"><button type="submit">Submit job</button></div></form>`;
  let kinds;
  try { kinds = await api("/api/kinds"); } catch (error) {
    main.insertAdjacentHTML("beforeend", `<p class="error">${esc(error.message)}</p>`);
    return;
  }
  const select = document.getElementById("kind");
  select.innerHTML = kinds.map((k) => `<option value="${esc(k.kind)}">${esc(k.title)} (${esc(k.kind)})</option>`).join("");
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "").get("kind");
  if (wanted && kinds.some((k) => k.kind === wanted)) select.value = wanted;
  const render = () => renderParams(kinds.find((k) => k.kind === select.value));
  select.addEventListener("change", render);
  render();
  document.getElementById("job-form").addEventListener("submit", (e) => {
    e.preventDefault();
    submitJob(kinds.find((k) => k.kind === select.value));
  });
}

function fieldRules(name, prop, required) {
  const type = prop.type || (prop.anyOf || []).map((t) => t.type).find((t) => t && t !== "null") || "string";
  return { name, type, required, minimum: prop.minimum ?? (prop.exclusiveMinimum !== undefined ? prop.exclusiveMinimum + 1 : undefined),
    maximum: prop.maximum ?? (prop.exclusiveMaximum !== undefined ? prop.exclusiveMaximum - 1 : undefined),
    enum: prop.enum, default: prop.default, description: prop.description, title: prop.title || name };
}

function renderParams(kind) {
  document.getElementById("kind-hint").textContent = kind.description;
  const schema = kind.params_schema;
  const required = new Set(schema.required || []);
  const props = schema.properties || {};
  const box = document.getElementById("params");
  box.innerHTML = Object.entries(props).map(([name, prop]) => {
    const rule = fieldRules(name, prop, required.has(name));
    const id = `p-${name}`;
    const bounds = [rule.minimum !== undefined ? `≥ ${fmt(rule.minimum)}` : "", rule.maximum !== undefined ? `≤ ${fmt(rule.maximum)}` : ""].filter(Boolean).join(", ");
    const hint = [rule.description, bounds].filter(Boolean).join(" · ");
    const input = rule.enum
      ? `<select id="${id}" name="${name}">${rule.enum.map((v) => `<option ${v === rule.default ? "selected" : ""}>${esc(v)}</option>`).join("")}</select>`
      : rule.type === "boolean"
        ? `<select id="${id}" name="${name}"><option value="true" ${rule.default === true ? "selected" : ""}>true</option><option value="false" ${rule.default === false ? "selected" : ""}>false</option></select>`
        : `<input id="${id}" name="${name}" ${rule.type === "integer" || rule.type === "number" ? 'inputmode="decimal"' : ""}
            value="${rule.default !== undefined && rule.default !== null ? esc(rule.default) : ""}" ${rule.required ? "required" : ""}
            aria-describedby="${id}-hint err-params.${name}">`;
    return `<div class="field"><label for="${id}">${esc(rule.title)}${rule.required ? " *" : ""}</label>${input}
      <div class="hint" id="${id}-hint">${esc(hint)}</div><div class="error" id="err-params.${name}" role="alert"></div></div>`;
  }).join("");
  const chunks = document.getElementById("chunks");
  chunks.min = String(kind.chunks.minimum);
  chunks.max = String(kind.chunks.maximum);
  chunks.value = String(kind.chunks.default);
  document.getElementById("chunks-hint").textContent = `${kind.chunks.minimum} to ${fmt(kind.chunks.maximum)}`;
  clearErrors();
}

function clearErrors() {
  document.querySelectorAll("#job-form .error").forEach((el) => { el.textContent = ""; });
  document.querySelectorAll("#job-form [aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
}

function showFieldError(field, message) {
  const box = document.getElementById(`err-${field}`) || document.getElementById("err-form");
  box.textContent = message;
  const input = field === "chunks" || field === "callback_url" ? document.getElementById(field)
    : field === "kind" ? document.getElementById("kind")
    : document.getElementById(`p-${field.replace(/^params\./, "").split(".")[0]}`);
  if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
}

// Check a value as the API would; returns [value, error].
function checkValue(rule, raw) {
  if (raw === "" || raw === undefined) {
    return rule.required ? [undefined, "This field is required"] : [undefined, null];
  }
  if (rule.type === "integer") {
    if (!/^-?\d+$/.test(raw.trim())) return [undefined, "Input should be a whole number"];
    const value = BigInt(raw.trim());
    if (rule.minimum !== undefined && value < BigInt(rule.minimum)) return [undefined, `Input should be greater than or equal to ${fmt(rule.minimum)}`];
    if (rule.maximum !== undefined && value > BigInt(rule.maximum)) return [undefined, `Input should be less than or equal to ${fmt(rule.maximum)}`];
    return [value, null];
  }
  if (rule.type === "number") {
    const value = Number(raw);
    if (raw.trim() === "" || Number.isNaN(value)) return [undefined, "Input should be a number"];
    if (rule.minimum !== undefined && value < rule.minimum) return [undefined, `Input should be greater than or equal to ${rule.minimum}`];
    if (rule.maximum !== undefined && value > rule.maximum) return [undefined, `Input should be less than or equal to ${rule.maximum}`];
    return [value, null];
  }
  if (rule.type === "boolean") return [raw === "true", null];
  return [raw, null];
}

// JSON with BigInt values written as plain integers.
function toJson(value) {
  const marked = JSON.stringify(value, (k, v) => (typeof v === "bigint" ? `__big__${v}` : v));
  return marked.replace(/"__big__(-?\d+)"/g, "$1");
}

async function submitJob(kind) {
  clearErrors();
  const required = new Set(kind.params_schema.required || []);
  const params = {};
  let firstError = null;
  for (const [name, prop] of Object.entries(kind.params_schema.properties || {})) {
    const rule = fieldRules(name, prop, required.has(name));
    const [value, error] = checkValue(rule, document.getElementById(`p-${name}`).value);
    if (error) { showFieldError(`params.${name}`, error); firstError = firstError || error; }
    else if (value !== undefined) params[name] = value;
  }
  const chunks = Number(document.getElementById("chunks").value);
  if (!Number.isInteger(chunks) || chunks < kind.chunks.minimum || chunks > kind.chunks.maximum) {
    showFieldError("chunks", `Chunks should be between ${kind.chunks.minimum} and ${fmt(kind.chunks.maximum)}`);
    firstError = firstError || "chunks";
  }
  if (firstError) return;
  const body = { kind: kind.kind, params, chunks };
  const callback = document.getElementById("callback_url").value.trim();
  if (callback) body.callback_url = callback;  // the API checks it: scheme, host, address
  try {
    const accepted = await api("/api/jobs", { method: "POST", body: toJson(body) });
    location.hash = `#/job/${accepted.job_id}`;
  } catch (error) {
    showFieldError(error.field || "form", error.message);
  }
}

// Job view: state, a bar and a chunk map that move as chunks finish, the result.
async function jobView(jobId) {
  main.innerHTML = `<p class="muted">Loading job…</p>`;
  let job;
  try { job = await api(`/api/jobs/${jobId}`); } catch (error) {
    main.innerHTML = `<h1>Job</h1><p class="error" role="alert">${esc(error.message)}</p>`;
    return;
  }
  main.innerHTML = `
    <h1>Job <span class="mono muted job-id">${esc(job.job_id)}</span></h1>
    <section class="panel" aria-label="Job">
      <div class="form-actions spread">
        <div><span id="job-badge">${badgeOf(job.state)}</span> <strong>${esc(job.kind)}</strong>
          <span class="params">${esc(fmt(job.params))}</span></div>
        <button id="cancel" class="danger" type="button" ${TERMINAL.has(job.state) ? "hidden" : ""}>Cancel job</button>
      </div>
      <div class="gap-top">${progressHtml("job")}</div>
      <dl class="facts">
        <div><dt>Elapsed</dt><dd id="f-elapsed">—</dd></div>
        <div><dt>Throughput</dt><dd id="f-rate">—</dd></div>
        <div><dt>Time left</dt><dd id="f-eta">—</dd></div>
        <div><dt>Cached chunks</dt><dd id="f-cached">—</dd></div>
      </dl>
      <h2>Chunks</h2>
      <div class="legend" aria-hidden="true"><span><i></i>pending</span><span><i class="running"></i>running</span>
        <span><i class="done"></i>done</span><span><i class="cached"></i>from cache</span></div>
      <div class="chunkmap" id="chunkmap" role="list" aria-label="Chunk map"></div>
      <div id="outcome"></div>
      <div id="webhook"></div>
    </section>`;
  const started = new Date(job.created_at).getTime();
  let state = { completed: job.progress.completed, total: job.progress.total, cached: job.progress.cached, state: job.state };
  const cells = [];
  const map = document.getElementById("chunkmap");
  for (let i = 0; i < job.progress.total; i += 1) {
    const cell = document.createElement("div");
    cell.className = "cell";
    cell.setAttribute("role", "listitem");
    cell.dataset.index = String(i);
    cell.title = `chunk ${i}: pending`;
    cell.setAttribute("aria-label", cell.title);
    map.appendChild(cell);
    cells.push(cell);
  }
  const paintCell = (c) => {
    const cell = cells[c.index];
    if (!cell) return;
    cell.className = `cell ${c.state}${c.cached ? " cached" : ""}`;
    const parts = [`chunk ${c.index}: ${c.state}`];
    if (c.worker) parts.push(`worker ${c.worker}`);
    if (c.duration_sec !== null && c.duration_sec !== undefined) parts.push(fmtSeconds(c.duration_sec));
    if (c.cached) parts.push("from cache");
    cell.title = parts.join(" · ");
    cell.setAttribute("aria-label", cell.title);
  };
  const loadChunks = async () => {
    try { (await api(`/api/jobs/${jobId}/chunks`)).items.forEach(paintCell); } catch { /* banner */ }
  };
  let lastChunkLoad = 0;
  const facts = () => {
    const end = job.finished_at ? new Date(job.finished_at).getTime() : Date.now();
    const elapsed = Math.max(0, (end - started) / 1000);
    document.getElementById("f-elapsed").textContent = fmtSeconds(elapsed);
    const fresh = state.completed - state.cached;
    const rate = elapsed > 0 ? state.completed / elapsed : 0;
    document.getElementById("f-rate").textContent = rate ? `${rate.toLocaleString(undefined, { maximumFractionDigits: 1 })} chunks/s` : "—";
    // Time left from the share of the work done where the kind weighs its chunks (their
    // sizes differ), else from the chunks done.
    const work = typeof state.work === "number" ? state.work : null;
    const left = work !== null && work > 0 && fresh > 0
      ? elapsed * (1 - work) / work
      : fresh > 0 && rate ? (state.total - state.completed) / rate : null;
    document.getElementById("f-eta").textContent = TERMINAL.has(state.state) ? "—"
      : left !== null ? fmtSeconds(left) : "estimating…";
    document.getElementById("f-cached").textContent = `${fmt(state.cached)} of ${fmt(state.total)}`;
  };
  const render = () => {
    showProgress("job", state.completed, state.total, TERMINAL.has(state.state));
    document.getElementById("job-badge").innerHTML = badgeOf(state.state);
    facts();
  };
  render();
  // The button works from the moment it shows: its handler is attached before any wait.
  const cancel = document.getElementById("cancel");
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try { job = await api(`/api/jobs/${jobId}/cancel`, { method: "POST" }); finish(job); }
    catch (error) { cancel.disabled = false; document.getElementById("outcome").innerHTML = `<p class="error" role="alert">${esc(error.message)}</p>`; }
  });
  let finished = false;  // by the cancel button or by the stream's end, whichever is first
  const finish = async (ended) => {
    if (finished) return;
    finished = true;
    job = ended;
    state = { completed: ended.progress.completed, total: ended.progress.total, cached: ended.progress.cached, state: ended.state };
    cancel.hidden = true;
    render();
    await loadChunks();
    await showOutcome(ended);
    followWebhook(jobId);
  };
  await loadChunks();
  if (finished) return;
  showWebhook(job.webhook);
  if (TERMINAL.has(job.state)) { await showOutcome(job); followWebhook(jobId, job); return; }
  const tick = setInterval(facts, 1000);
  onLeave(() => clearInterval(tick));
  const stop = follow(jobId, {
    onProgress: (p) => {
      state = { completed: p.completed, total: p.total, cached: p.cached, state: p.state, work: p.work_done };
      if (p.chunk) {
        paintCell({ index: p.chunk.index, state: "done", worker: p.chunk.worker, cached: p.chunk.cache_hits > 0 });
      }
      render();
      if (Date.now() - lastChunkLoad > 1000) { lastChunkLoad = Date.now(); loadChunks(); }
    },
    onEnd: (ended) => { clearInterval(tick); finish(ended); },
  });
  onLeave(stop);
}

async function showOutcome(job) {
  const box = document.getElementById("outcome");
  if (job.state === "FAILURE") {
    box.innerHTML = `<h2>Error</h2><pre class="errortext" role="alert">${esc(job.error ?? "")}</pre>`;
    return;
  }
  if (job.state === "CANCELLED") {
    box.innerHTML = `<p class="muted" role="status">Cancelled after ${fmt(job.progress.completed)} of ${fmt(job.progress.total)} chunks.</p>`;
    return;
  }
  if (job.state !== "SUCCESS") return;
  const entries = Object.entries(job.result || {});
  box.innerHTML = `<h2>Result</h2><div class="cards" id="result-cards">${entries.map(([key, value]) => `
    <div class="card"><div class="label">${esc(key.replaceAll("_", " "))}</div>
    <div class="value" data-key="${esc(key)}">${key === "duration_sec" ? fmtSeconds(value) : esc(fmt(value))}</div></div>`).join("")}</div>`;
  try {
    const page = await api(`/api/jobs/${job.job_id}/result?limit=1`);
    box.insertAdjacentHTML("beforeend", `<p><a class="button" href="/api/jobs/${job.job_id}/result.txt" download>
      Download all ${fmt(page.total)} items (.txt)</a></p>`);
  } catch { /* not a list result */ }
}

// The completion webhook: where it goes and each attempt, read again until it settles.
function showWebhook(webhook) {
  const box = document.getElementById("webhook");
  if (!box || !webhook) return;
  const states = { waiting: "sent when the job ends", pending: "retrying", delivered: "delivered", failed: "given up" };
  const next = webhook.state === "pending" && webhook.next_attempt_at ? ` · next attempt ${fmtTime(webhook.next_attempt_at)}` : "";
  const rows = webhook.attempts.map((a) => `<tr><td class="num">${a.number}</td><td>${fmtTime(a.at)}</td>
    <td class="num">${a.status_code ?? "—"}</td><td class="num">${fmt(Math.round(a.duration_ms))} ms</td>
    <td>${a.error ? esc(a.error) : "delivered"}</td></tr>`).join("");
  box.innerHTML = `<h2>Webhook</h2>
    <p><span class="mono webhook-url">${esc(webhook.url)}</span> <span class="muted" id="webhook-state" data-state="${esc(webhook.state)}">${esc(states[webhook.state] || webhook.state)}${esc(next)}</span></p>
    <p class="muted small">Delivery <span class="mono">${esc(webhook.delivery_id)}</span></p>
    ${webhook.attempts.length ? `<div class="table-wrap"><table aria-label="Webhook attempts"><thead><tr><th>#</th><th>At</th>
      <th>Status</th><th>Took</th><th>Outcome</th></tr></thead><tbody>${rows}</tbody></table></div>` : ""}`;
}

async function followWebhook(jobId, known) {
  let job = known;
  let live = true;
  onLeave(() => { live = false; });
  while (live) {
    if (!job) { try { job = await api(`/api/jobs/${jobId}`); } catch { return; } }
    if (!live) return;
    showWebhook(job.webhook);
    if (!job.webhook || job.webhook.state === "delivered" || job.webhook.state === "failed") return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    job = null;
  }
}

// History: every job, a page at a time, filtered by state and kind.
async function historyView() {
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  const offset = Number(query.get("offset") || 0);
  const stateFilter = query.get("state") || "";
  const kindFilter = query.get("kind") || "";
  let kinds = [];
  try { kinds = await api("/api/kinds"); } catch { /* banner */ }
  main.innerHTML = `<h1>History</h1>
    <form class="filters" id="filters" aria-label="Filter jobs">
      <div class="field"><label for="f-state">State</label><select id="f-state" name="state">
        <option value="">all states</option><option value="running">running</option>
        ${STATES.map((s) => `<option value="${s}" ${s === stateFilter ? "selected" : ""}>${s.toLowerCase()}</option>`).join("")}
      </select></div>
      <div class="field"><label for="f-kind">Kind</label><select id="f-kind" name="kind"><option value="">all kinds</option>
        ${kinds.map((k) => `<option value="${esc(k.kind)}" ${k.kind === kindFilter ? "selected" : ""}>${esc(k.kind)}</option>`).join("")}
      </select></div>
    </form>
    <div class="panel table-wrap"><table aria-label="Jobs"><thead><tr><th>State</th><th>Progress</th><th>Kind</th>
      <th class="opt">Parameters</th><th class="opt">Created</th><th class="opt">Started</th><th class="opt">Finished</th>
      <th>Duration</th><th>Result</th></tr></thead><tbody id="rows"><tr><td colspan="9">Loading…</td></tr></tbody></table>
      <div class="pager"><button class="secondary" id="prev" type="button">Previous</button>
      <span id="page-info" class="muted"></span><button class="secondary" id="next" type="button">Next</button></div></div>`;
  if (stateFilter === "running") document.getElementById("f-state").value = "running";
  const go = (changes) => {
    const next = new URLSearchParams({ state: stateFilter, kind: kindFilter, offset: String(offset), ...changes });
    [...next.keys()].forEach((k) => { if (!next.get(k) || next.get(k) === "0") next.delete(k); });
    location.hash = `#/history${next.toString() ? `?${next}` : ""}`;
  };
  document.getElementById("f-state").addEventListener("change", (e) => go({ state: e.target.value, offset: "0" }));
  document.getElementById("f-kind").addEventListener("change", (e) => go({ kind: e.target.value, offset: "0" }));
  const params = new URLSearchParams({ limit: "20", offset: String(offset) });
  (stateFilter === "running" ? ["STARTED", "PROGRESS"] : stateFilter ? [stateFilter] : []).forEach((s) => params.append("state", s));
  if (kindFilter) params.append("kind", kindFilter);
  let page;
  try { page = await api(`/api/jobs?${params}`); } catch (error) {
    document.getElementById("rows").innerHTML = `<tr><td colspan="9" class="error">${esc(error.message)}</td></tr>`;
    return;
  }
  document.getElementById("rows").innerHTML = page.items.length ? page.items.map((job) => `
    <tr data-job="${job.job_id}"><td>${badgeOf(job.state)}</td>
    <td class="num">${fmt(job.progress.completed)}/${fmt(job.progress.total)}</td>
    <td><a href="#/job/${job.job_id}">${esc(job.kind)}</a></td>
    <td class="params opt">${esc(fmt(job.params))}</td>
    <td class="opt">${fmtTime(job.created_at)}</td><td class="opt">${fmtTime(job.started_at)}</td>
    <td class="opt">${fmtTime(job.finished_at)}</td><td class="num">${fmtSeconds(job.duration_sec)}</td>
    <td class="num">${job.state === "SUCCESS" ? esc(fmt(headline(job.result))) : job.state === "FAILURE" ? "error" : "—"}</td></tr>`).join("")
    : `<tr><td colspan="9" class="muted">No jobs match.</td></tr>`;
  const last = Math.min(offset + page.items.length, page.total);
  document.getElementById("page-info").textContent = page.total ? `${fmt(offset + 1)}–${fmt(last)} of ${fmt(page.total)}` : "";
  const prev = document.getElementById("prev");
  const next = document.getElementById("next");
  prev.disabled = offset === 0;
  next.disabled = page.next_offset === null;
  prev.addEventListener("click", () => go({ offset: String(Math.max(0, offset - 20)) }));
  next.addEventListener("click", () => go({ offset: String(page.next_offset) }));
}

async function workersView() {
  main.innerHTML = `<h1>Workers</h1><div class="panel table-wrap"><table aria-label="Workers"><thead><tr>
    <th>Name</th><th>Host</th><th>Processes</th><th>In flight</th><th>Chunks done</th><th class="opt">Started</th>
    <th>Last heartbeat</th></tr></thead><tbody id="workers"><tr><td colspan="7">Loading…</td></tr></tbody></table></div>`;
  const load = async () => {
    const body = document.getElementById("workers");
    if (!body) return;
    try {
      const list = await api("/api/workers");
      body.innerHTML = list.items.length ? list.items.map((w) => `<tr><td class="mono">${esc(w.name)}</td>
        <td>${esc(w.host)}</td><td class="num">${fmt(w.concurrency)}</td><td class="num">${fmt(w.in_flight)}</td>
        <td class="num">${fmt(w.chunks_done)}</td><td class="opt">${fmtTime(w.started_at)}</td>
        <td>${fmtTime(w.last_heartbeat)}</td></tr>`).join("")
        : `<tr><td colspan="7" class="muted">No live workers. Start one with <code>chunkwise worker</code>.</td></tr>`;
    } catch (error) { body.innerHTML = `<tr><td colspan="7" class="error">${esc(error.message)}</td></tr>`; }
  };
  await load();
  const timer = setInterval(load, REFRESH_MS);
  onLeave(() => clearInterval(timer));
}

// ---- Routing --------------------------------------------------------------------------

async function route() {
  leaveView();
  const hash = location.hash || "#/";
  const path = hash.slice(1).split("?")[0];
  const section = path.split("/")[1] || "home";
  document.querySelectorAll("nav a").forEach((a) => {
    if (a.dataset.nav === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (section === "signin") await signInView();
  else if (section === "tokens") await tokensView();
  else if (section === "job") await jobView(path.split("/")[2]);
  else if (section === "new") await newJobView();
  else if (section === "history") await historyView();
  else if (section === "workers") await workersView();
  else await homeView();
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
checkHealth();
setInterval(checkHealth, REFRESH_MS);
loadSession().then(route);
