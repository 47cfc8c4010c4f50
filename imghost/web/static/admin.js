// The admin console: keys, uploads, run-time settings and stats, over /api/* and /v1/files.

import {
  api,
  bindKeyField,
  clear,
  copyText,
  formatBytes,
  formatNumber,
  formatTime,
  h,
  relativeTime,
  say,
  svg,
} from "./api.js";

const $ = (id) => document.getElementById(id);

const keyInput = $("key-input");
const consoleMessage = $("console-message");
const TABS = ["keys", "uploads", "settings", "stats"];
const loaders = { keys: loadKeys, uploads: openUploads, settings: loadSettings, stats: loadStats };

let activeTab = "keys";
let keys = null; // the last GET /api/keys answer, for names and the uploads filter
let keyTimer = 0;

const currentKey = bindKeyField(keyInput, $("forget-key"), () => {
  clearTimeout(keyTimer);
  keys = null;
  keyTimer = setTimeout(() => refresh(), 300);
});

function key() {
  return currentKey();
}

// Run a loader; a missing or refused key shows once, at the top, for every section.
async function guarded(work) {
  if (!key()) {
    say(consoleMessage, "Enter an admin API key to use the console.");
    return false;
  }
  try {
    await work();
    say(consoleMessage, "");
    return true;
  } catch (error) {
    say(consoleMessage, error.message, "error");
    return false;
  }
}

function refresh() {
  return guarded(() => loaders[activeTab]());
}

// ---- tabs ---------------------------------------------------------------------------------

function selectTab(name, { focus = false } = {}) {
  if (!TABS.includes(name)) name = "keys";
  activeTab = name;
  for (const tab of TABS) {
    const button = $(`tab-${tab}`);
    const selected = tab === name;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`panel-${tab}`).hidden = !selected;
    if (selected && focus) button.focus();
  }
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  refresh();
}

for (const tab of TABS) {
  const button = $(`tab-${tab}`);
  button.addEventListener("click", () => selectTab(tab));
  button.addEventListener("keydown", (event) => {
    const index = TABS.indexOf(tab);
    const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: TABS.length - 1 - index };
    if (!(event.key in moves)) return;
    event.preventDefault();
    selectTab(TABS[(index + moves[event.key] + TABS.length) % TABS.length], { focus: true });
  });
}

// ---- keys ---------------------------------------------------------------------------------

async function fetchKeys() {
  const body = await api(key(), "GET", "/api/keys");
  keys = Array.isArray(body?.keys) ? body.keys : [];
  fillKeyFilter();
  return keys;
}

function keyStatus(record) {
  if (!record.enabled) return ["disabled", "Disabled"];
  if (record.expires_at && record.expires_at * 1000 <= Date.now()) return ["expired", "Expired"];
  return ["enabled", "Active"];
}

function limitText(value, format) {
  return value === null || value === undefined || Number(value) === 0 ? "unlimited" : format(value);
}

function keyRow(record) {
  const [state, label] = keyStatus(record);
  const toggle = h(
    "button",
    { type: "button", class: "button small secondary key-toggle" },
    record.enabled ? "Disable" : "Enable",
  );
  toggle.addEventListener("click", () => toggleKey(record, toggle));
  const revoke = h("button", { type: "button", class: "button small danger key-revoke" }, "Revoke");
  revoke.addEventListener("click", () => revokeKey(record, revoke));
  const ips = record.allow_ips && record.allow_ips.length ? record.allow_ips.join(", ") : "any";
  return h(
    "tr",
    { dataset: { keyId: record.id, state } },
    h("td", { class: "key-name" }, record.name || "—"),
    h("td", {}, h("code", {}, `${record.prefix || ""}…`), h("div", { class: "muted small" }, record.id)),
    h("td", {}, h("span", { class: `badge role-${record.role}` }, record.role)),
    h("td", {}, h("span", { class: `badge state-${state}` }, label)),
    h("td", { class: "num" }, limitText(record.daily_bytes, formatBytes)),
    h("td", { class: "num" }, limitText(record.rpm, formatNumber)),
    h("td", { class: "ips" }, ips),
    h("td", { class: "nowrap", title: formatTime(record.created_at) }, formatTime(record.created_at, { short: true })),
    h(
      "td",
      { class: "nowrap", title: record.expires_at ? relativeTime(record.expires_at) : "" },
      record.expires_at ? formatTime(record.expires_at, { short: true }) : "never",
    ),
    h("td", { class: "actions" }, toggle, revoke),
  );
}

async function loadKeys() {
  const list = await fetchKeys();
  const body = $("keys-body");
  clear(body);
  body.append(...list.map(keyRow));
  $("keys-empty").hidden = list.length > 0;
}

async function toggleKey(record, button) {
  button.disabled = true;
  await guarded(async () => {
    await api(key(), "PATCH", `/api/keys/${encodeURIComponent(record.id)}`, {
      json: { enabled: !record.enabled },
    });
    await loadKeys();
  });
  button.disabled = false;
}

async function revokeKey(record, button) {
  const name = record.name ? `"${record.name}" (${record.id})` : record.id;
  if (!window.confirm(`Revoke key ${name}? Apps using it get 401 from now on. This cannot be undone.`)) return;
  button.disabled = true;
  await guarded(async () => {
    await api(key(), "DELETE", `/api/keys/${encodeURIComponent(record.id)}`);
    await loadKeys();
  });
  button.disabled = false;
}

function optionalNumber(input, label, { integer = false } = {}) {
  const raw = input.value.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`${label} must be ${integer ? "a whole number" : "a number"} of 0 or more.`);
  }
  return value;
}

$("new-key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = $("new-key-message");
  const nameInput = $("new-key-name");
  const name = nameInput.value.trim();
  if (!name) {
    say(message, "Give the key a name.", "error");
    nameInput.focus();
    return;
  }
  let payload;
  try {
    const quotaMb = optionalNumber($("new-key-quota"), "Daily quota");
    const rpm = optionalNumber($("new-key-rpm"), "Requests per minute", { integer: true });
    const days = optionalNumber($("new-key-expires"), "Expiry");
    payload = {
      name,
      role: $("new-key-role").value,
      expires_at: days ? Math.floor(Date.now() / 1000 + days * 86400) : null,
      allow_ips: $("new-key-ips").value.split(/[\s,]+/).filter(Boolean),
    };
    if (quotaMb !== undefined) payload.daily_bytes = Math.round(quotaMb * 1_000_000);
    if (rpm !== undefined) payload.rpm = rpm;
  } catch (error) {
    say(message, error.message, "error");
    return;
  }
  if (!key()) {
    say(message, "Enter an admin API key first.", "error");
    return;
  }
  const submit = $("new-key-submit");
  submit.disabled = true;
  try {
    const created = await api(key(), "POST", "/api/keys", { json: payload });
    const secret = created?.key || "";
    $("new-key-secret").textContent = secret;
    $("new-key-box").hidden = !secret;
    say(message, `Created ${created?.name || name}.`, "success");
    $("new-key-form").reset();
    await guarded(loadKeys);
    $("new-key-copy").focus();
  } catch (error) {
    say(message, error.message, "error");
  } finally {
    submit.disabled = false;
  }
});

$("new-key-copy").addEventListener("click", async () => {
  const button = $("new-key-copy");
  const ok = await copyText($("new-key-secret").textContent);
  button.textContent = ok ? "Copied" : "Copy failed";
  setTimeout(() => (button.textContent = "Copy"), 1500);
});

// The secret is shown once: "Done" (or leaving the page) forgets it.
$("new-key-dismiss").addEventListener("click", () => {
  $("new-key-secret").textContent = "";
  $("new-key-box").hidden = true;
  say($("new-key-message"), "");
});

$("keys-refresh").addEventListener("click", () => guarded(loadKeys));

// ---- uploads ------------------------------------------------------------------------------

const uploads = { lastId: null, hasMore: false, filters: {}, loading: false };

function fillKeyFilter() {
  const select = $("uploads-key");
  const chosen = select.value;
  clear(select);
  select.append(h("option", { value: "" }, "All keys"));
  for (const record of keys || []) {
    select.append(h("option", { value: record.id }, `${record.name || "(no name)"} · ${record.prefix || record.id}…`));
  }
  select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
}

function dayStart(value, plusDays = 0) {
  if (!value) return undefined;
  const [year, month, day] = value.split("-").map(Number);
  return Math.floor(new Date(year, month - 1, day + plusDays).getTime() / 1000);
}

function readFilters() {
  return {
    key_id: $("uploads-key").value || undefined,
    created_after: dayStart($("uploads-from").value),
    created_before: dayStart($("uploads-to").value, 1), // the whole "to" day is included
  };
}

function keyLabel(keyId) {
  if (!keyId) return "—";
  const record = (keys || []).find((k) => k.id === keyId);
  return record?.name ? `${record.name} (${keyId})` : keyId;
}

// Thumbnails load the 512 px `openai-low` variant, not the original (which may be tens of MB);
// should the variant fail, the original is tried once.
const THUMB_PRESET = "openai-low";

function uploadCard(file) {
  const thumb = file.variants?.[THUMB_PRESET]?.url || file.url;
  const img = h("img", { src: thumb, alt: file.filename || file.id, loading: "lazy", decoding: "async" });
  img.addEventListener("error", () => {
    if (img.getAttribute("src") !== file.url) img.src = file.url;
    else img.classList.add("broken");
  });
  const open = h("a", { class: "button small secondary", href: file.url, target: "_blank", rel: "noopener" }, "Open");
  const remove = h("button", { type: "button", class: "button small danger upload-delete" }, "Delete");
  const card = h(
    "article",
    { class: "upload-card card", dataset: { fileId: file.id } },
    h("a", { class: "thumb", href: file.url, target: "_blank", rel: "noopener", "aria-label": `Open ${file.filename || file.id}` }, img),
    h(
      "dl",
      { class: "meta" },
      meta("Size", `${formatBytes(file.bytes ?? file.size)}${file.width ? ` · ${file.width}×${file.height}` : ""}`),
      meta("Type", file.mime_type || "—"),
      // Older servers leave key_id out of file objects; a key filter still says whose it is.
      meta("Key", keyLabel(file.key_id || uploads.filters.key_id)),
      meta("Created", formatTime(file.created_at, { short: true })),
      meta("Expires", file.expires_at ? `${formatTime(file.expires_at, { short: true })} · ${relativeTime(file.expires_at)}` : "never"),
    ),
    h("div", { class: "card-actions" }, open, remove),
  );
  remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete ${file.filename || file.id}? Its URL answers 404 at once.`)) return;
    remove.disabled = true;
    try {
      await api(key(), "DELETE", `/v1/files/${encodeURIComponent(file.id)}`);
      card.remove();
      $("uploads-empty").hidden = $("uploads-grid").children.length > 0;
    } catch (error) {
      say($("uploads-message"), error.message, "error");
      remove.disabled = false;
    }
  });
  return card;
}

function meta(term, value) {
  return h("div", {}, h("dt", {}, term), h("dd", { title: value }, value));
}

async function loadUploads({ reset }) {
  if (uploads.loading) return;
  uploads.loading = true;
  const grid = $("uploads-grid");
  try {
    if (reset) uploads.filters = readFilters();
    const body = await api(key(), "GET", "/v1/files", {
      query: { limit: 24, after: reset ? undefined : uploads.lastId, ...uploads.filters },
    });
    const data = Array.isArray(body?.data) ? body.data : [];
    if (reset) clear(grid);
    grid.append(...data.map(uploadCard));
    uploads.lastId = body?.last_id || uploads.lastId;
    uploads.hasMore = Boolean(body?.has_more);
    $("uploads-more").hidden = !uploads.hasMore;
    $("uploads-empty").hidden = grid.children.length > 0;
    say($("uploads-message"), "");
  } finally {
    uploads.loading = false;
  }
}

async function openUploads() {
  if (keys === null) await fetchKeys();
  await loadUploads({ reset: true });
}

$("uploads-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(() => loadUploads({ reset: true }));
});
$("uploads-filter").addEventListener("reset", () => {
  setTimeout(() => guarded(() => loadUploads({ reset: true })), 0);
});
$("uploads-key").addEventListener("change", () => guarded(() => loadUploads({ reset: true })));
$("uploads-more").addEventListener("click", () => guarded(() => loadUploads({ reset: false })));

// ---- settings -----------------------------------------------------------------------------

const GROUP_TITLES = {
  public_url: "Public URL",
  storage: "Storage",
  limits: "Limits",
  images: "Images",
  expiry: "Expiry",
  quota: "Quota",
  fetch: "URL fetch",
};
const GROUP_ORDER = Object.keys(GROUP_TITLES);

let fields = []; // {name, kind, input, original}

function kindOf(setting) {
  if (setting.secret) return "secret";
  const value = setting.value ?? setting.default;
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return "number";
  if (typeof value === "string" || value === null) return "string";
  return "json";
}

function displayValue(value) {
  if (value === "" || value === null || value === undefined) return "(none)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function settingField(name, setting) {
  const kind = kindOf(setting);
  const id = `setting-${name.replaceAll(".", "-")}`;
  const helpId = `${id}-help`;
  let input;
  if (kind === "boolean") {
    input = h("input", { id, name, type: "checkbox", "aria-describedby": helpId });
    input.checked = Boolean(setting.value);
  } else if (kind === "number") {
    input = h("input", { id, name, type: "number", step: "any", inputmode: "decimal", "aria-describedby": helpId });
    input.value = String(setting.value);
  } else if (kind === "json") {
    input = h("textarea", { id, name, rows: 2, spellcheck: "false", class: "mono", "aria-describedby": helpId });
    input.value = JSON.stringify(setting.value);
  } else if (kind === "secret") {
    input = h("input", {
      id,
      name,
      type: "password",
      autocomplete: "new-password",
      spellcheck: "false",
      placeholder: setting.value ? "********" : "not set",
      "aria-describedby": helpId,
    });
    input.value = setting.value || "";
  } else {
    input = h("input", { id, name, type: "text", spellcheck: "false", autocomplete: "off", "aria-describedby": helpId });
    input.value = setting.value ?? "";
  }
  const field = { name, kind, input, original: kind === "secret" ? setting.value || "" : setting.value };
  const row = h("div", { class: `setting kind-${kind}`, dataset: { setting: name } });
  input.addEventListener(kind === "boolean" ? "change" : "input", () => {
    let dirty;
    try {
      dirty = JSON.stringify(readField(field)) !== JSON.stringify(field.original);
    } catch {
      dirty = true;
    }
    row.classList.toggle("dirty", dirty);
  });
  const help = h(
    "p",
    { id: helpId, class: "help" },
    setting.help || "",
    setting.is_default || setting.secret ? "" : h("span", { class: "default-note" }, ` Default: ${displayValue(setting.default)}.`),
  );
  const label = h("label", { for: id }, h("code", {}, name));
  if (!setting.is_default && !setting.secret) label.append(h("span", { class: "badge changed" }, "changed"));
  if (kind === "boolean") {
    row.append(h("div", { class: "check" }, input, label), help);
  } else {
    row.append(label, input, help);
  }
  fields.push(field);
  return row;
}

function readField(field) {
  const { kind, input, name } = field;
  if (kind === "boolean") return input.checked;
  if (kind === "number") {
    const raw = input.value.trim();
    const value = Number(raw);
    if (!raw || !Number.isFinite(value)) throw new Error(`${name} needs a number.`);
    return value;
  }
  if (kind === "json") {
    try {
      return JSON.parse(input.value);
    } catch {
      throw new Error(`${name} is not valid JSON.`);
    }
  }
  return input.value;
}

async function loadSettings() {
  const body = await api(key(), "GET", "/api/settings");
  const settings = body?.settings || {};
  fields = [];
  const groups = new Map();
  for (const [name, setting] of Object.entries(settings)) {
    const group = name.split(".")[0];
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push([name, setting]);
  }
  const ordered = [...groups.keys()].sort((a, b) => {
    const rank = (g) => (GROUP_ORDER.includes(g) ? GROUP_ORDER.indexOf(g) : GROUP_ORDER.length);
    return rank(a) - rank(b);
  });
  const container = $("settings-groups");
  clear(container);
  for (const group of ordered) {
    const fieldset = h("fieldset", { class: "card settings-group", dataset: { group } });
    const grid = h("div", { class: "settings-grid" });
    fieldset.append(h("legend", { class: "card-title" }, GROUP_TITLES[group] || group), grid);
    let subgroup = null;
    for (const [name, setting] of groups.get(group)) {
      const parts = name.split(".");
      const sub = parts.length > 2 ? parts[1] : null;
      if (sub && sub !== subgroup) grid.append(h("h3", { class: "subgroup" }, `${group}.${sub}`));
      subgroup = sub;
      grid.append(settingField(name, setting));
    }
    container.append(fieldset);
  }
}

function changedSettings() {
  const changes = {};
  for (const field of fields) {
    const value = readField(field);
    if (JSON.stringify(value) !== JSON.stringify(field.original)) changes[field.name] = value;
  }
  return changes;
}

$("settings-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = $("settings-message");
  let changes;
  try {
    changes = changedSettings();
  } catch (error) {
    say(message, error.message, "error");
    return;
  }
  const names = Object.keys(changes);
  if (!names.length) {
    say(message, "Nothing changed.");
    return;
  }
  const save = $("settings-save");
  save.disabled = true;
  say(message, "Saving…");
  try {
    await api(key(), "PUT", "/api/settings", { json: changes });
    await loadSettings();
    say(message, `Saved ${names.join(", ")}.`, "success");
  } catch (error) {
    say(message, error.message, "error");
  } finally {
    save.disabled = false;
  }
});

$("settings-revert").addEventListener("click", async () => {
  if (await guarded(loadSettings)) say($("settings-message"), "");
});

// ---- stats --------------------------------------------------------------------------------

const CHART = { width: 720, height: 300, left: 56, right: 8, top: 22, bandHeight: 100, gap: 44 };

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function drawBand(chart, days, { field, title, format, top, className }) {
  const { left, right, width, bandHeight } = CHART;
  const plotWidth = width - left - right;
  const slot = plotWidth / Math.max(days.length, 1);
  const max = niceMax(Math.max(0, ...days.map((d) => Number(d[field]) || 0)));
  const bottom = top + bandHeight;
  const group = svg("g", { class: `band ${className}` });
  group.append(
    svg("text", { x: left, y: top - 8, class: "band-title" }, title),
    svg("line", { x1: left, x2: width - right, y1: top, y2: top, class: "gridline" }),
    svg("line", { x1: left, x2: width - right, y1: top + bandHeight / 2, y2: top + bandHeight / 2, class: "gridline" }),
    svg("line", { x1: left, x2: width - right, y1: bottom, y2: bottom, class: "axis" }),
    svg("text", { x: left - 6, y: top + 4, class: "tick", "text-anchor": "end" }, format(max)),
    svg("text", { x: left - 6, y: top + bandHeight / 2 + 4, class: "tick", "text-anchor": "end" }, format(max / 2)),
    svg("text", { x: left - 6, y: bottom + 4, class: "tick", "text-anchor": "end" }, "0"),
  );
  days.forEach((day, index) => {
    const value = Number(day[field]) || 0;
    if (value <= 0) return;
    const barHeight = Math.max(1.5, (value / max) * bandHeight);
    const barWidth = Math.max(2, slot * 0.7);
    const rect = svg("rect", {
      x: (left + index * slot + (slot - barWidth) / 2).toFixed(2),
      y: (bottom - barHeight).toFixed(2),
      width: barWidth.toFixed(2),
      height: barHeight.toFixed(2),
      rx: 2,
      class: `bar ${className}`,
      "data-day": day.day,
      "data-value": value,
    });
    rect.append(svg("title", {}, `${day.day}: ${format(value)} ${field === "uploads" ? "uploads" : ""}`.trim()));
    group.append(rect);
  });
  chart.append(group);
  return { slot, bottom };
}

function drawChart(days) {
  const chart = $("stats-chart");
  for (const child of [...chart.children]) if (child.tagName !== "title") child.remove();
  const first = drawBand(chart, days, {
    field: "uploads",
    title: "Uploads per day",
    format: (v) => formatNumber(Math.round(v * 10) / 10),
    top: CHART.top,
    className: "bar-uploads",
  });
  const secondTop = CHART.top + CHART.bandHeight + CHART.gap;
  const second = drawBand(chart, days, {
    field: "bytes",
    title: "Bytes per day",
    format: formatBytes,
    top: secondTop,
    className: "bar-bytes",
  });
  const labels = svg("g", { class: "x-labels" });
  days.forEach((day, index) => {
    if (index % 5 !== 0 && index !== days.length - 1) return;
    const x = CHART.left + index * first.slot + first.slot / 2;
    labels.append(svg("text", { x: x.toFixed(2), y: second.bottom + 16, class: "tick", "text-anchor": "middle" }, day.day.slice(5)));
  });
  chart.append(labels);
  if (!days.length) {
    chart.append(svg("text", { x: CHART.width / 2, y: CHART.height / 2, class: "empty-chart", "text-anchor": "middle" }, "No data yet"));
  }
}

function fillTable(table, rows, cells) {
  const body = table.querySelector("tbody");
  clear(body);
  if (!rows.length) {
    body.append(h("tr", {}, h("td", { colspan: 3, class: "muted" }, "Nothing yet.")));
    return;
  }
  for (const row of rows) body.append(h("tr", {}, ...cells(row)));
}

function tile(label, value, note) {
  return h("div", { class: "tile card" }, h("p", { class: "tile-label" }, label), h("p", { class: "tile-value" }, value), note ? h("p", { class: "muted small" }, note) : null);
}

async function loadStats() {
  const body = await api(key(), "GET", "/api/stats");
  const days = Array.isArray(body?.days) ? body.days : [];
  const totalUploads = days.reduce((sum, d) => sum + (Number(d.uploads) || 0), 0);
  const totalBytes = days.reduce((sum, d) => sum + (Number(d.bytes) || 0), 0);
  const busiest = days.reduce((best, d) => ((Number(d.uploads) || 0) > (Number(best?.uploads) || 0) ? d : best), null);
  const summary = $("stats-summary");
  clear(summary);
  summary.append(
    tile("Uploads, 30 days", formatNumber(totalUploads)),
    tile("Stored, 30 days", formatBytes(totalBytes)),
    tile("Busiest day", busiest ? busiest.day : "—", busiest ? `${formatNumber(busiest.uploads)} uploads` : ""),
  );
  drawChart(days);
  fillTable($("stats-top-keys"), body?.top_keys || [], (row) => [
    h("td", {}, row.name || "—", h("div", { class: "muted small" }, row.key_id || "")),
    h("td", { class: "num" }, formatNumber(row.uploads)),
    h("td", { class: "num" }, formatBytes(row.bytes)),
  ]);
  fillTable($("stats-stores"), body?.stores || [], (row) => [
    h("td", {}, row.store || "—"),
    h("td", { class: "num" }, formatNumber(row.uploads)),
    h("td", { class: "num" }, formatBytes(row.bytes)),
  ]);
}

// ---- start --------------------------------------------------------------------------------

selectTab(location.hash.slice(1) || "keys");
