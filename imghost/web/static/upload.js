// The upload page: files from the picker, drag and drop or the clipboard go to
// POST /v1/files/uploads with live progress; URLs go to POST /v1/files/uploads/url.

import { api, bindKeyField, copyButton, errorOf, formatBytes, h, relativeTime, say } from "./api.js";

const MAX_PARALLEL = 3;

const keyInput = document.getElementById("key-input");
const forgetButton = document.getElementById("forget-key");
const keyNotice = document.getElementById("key-notice");
const expiresSelect = document.getElementById("expires");
const fileInput = document.getElementById("file-input");
const dropZone = document.getElementById("drop-zone");
const urlForm = document.getElementById("url-form");
const urlInput = document.getElementById("url-input");
const urlSubmit = document.getElementById("url-submit");
const results = document.getElementById("results");
const resultsHeading = document.getElementById("results-heading");

const currentKey = bindKeyField(keyInput, forgetButton, () => say(keyNotice, ""));

function requireKey() {
  const key = currentKey();
  if (!key) {
    say(keyNotice, "Enter your API key first.", "error");
    keyInput.focus();
    return null;
  }
  say(keyNotice, "");
  return key;
}

function expiresIn() {
  return expiresSelect.value || null;
}

// ---- one result item per file or URL -------------------------------------------------------

function formats(url) {
  return {
    url,
    markdown: `![](${url})`,
    html: `<img src="${url.replaceAll("&", "&amp;").replaceAll('"', "&quot;")}">`,
    openai: JSON.stringify({ type: "image_url", image_url: { url } }, null, 2),
  };
}

function newResult(name, previewUrl) {
  const preview = h("div", { class: "result-preview" });
  if (previewUrl) {
    const img = h("img", { src: previewUrl, alt: "" });
    img.addEventListener("error", () => img.remove());
    preview.append(img);
  }
  const progress = h("progress", { class: "result-progress", max: 100, "aria-label": `Uploading ${name}` });
  const status = h("p", { class: "result-status muted" }, "Waiting…");
  const body = h("div", { class: "result-body" }, h("p", { class: "result-name" }, name), status, progress);
  const item = h("li", { class: "result card", dataset: { state: "pending" } }, preview, body);
  results.prepend(item);
  resultsHeading.hidden = false;
  return { item, preview, body, progress, status, previewUrl };
}

function showProgress(result, loaded, total) {
  if (total > 0) {
    const percent = Math.min(100, Math.round((loaded / total) * 100));
    result.progress.value = percent;
    result.status.textContent = percent < 100 ? `Uploading… ${percent}%` : "Checking the image…";
  }
}

function showSuccess(result, file) {
  const { item, body, progress, status, preview } = result;
  item.dataset.state = "done";
  progress.remove();
  const details = [formatBytes(file.bytes ?? file.size), file.mime_type];
  if (file.width && file.height) details.push(`${file.width}×${file.height}`);
  details.push(file.expires_at ? `expires ${relativeTime(file.expires_at)}` : "never expires");
  status.textContent = details.filter(Boolean).join(" · ");

  if (!preview.querySelector("img")) {
    preview.append(h("img", { src: file.url, alt: "" }));
  }
  const text = formats(file.url);
  const urlField = h("input", {
    class: "result-url",
    type: "text",
    readonly: true,
    value: file.url,
    "aria-label": "Image URL",
    spellcheck: "false",
  });
  urlField.addEventListener("focus", () => urlField.select());
  const copies = h(
    "div",
    { class: "result-copies", role: "group", "aria-label": "Copy as" },
    copyButton("Copy URL", () => text.url, { class: "button small primary", dataset: { copy: "url" } }),
    copyButton("Markdown", () => text.markdown, { dataset: { copy: "markdown" } }),
    copyButton("HTML", () => text.html, { dataset: { copy: "html" } }),
    copyButton("OpenAI", () => text.openai, { dataset: { copy: "openai" } }),
    h("a", { class: "button small ghost", href: file.url, target: "_blank", rel: "noopener" }, "Open"),
  );
  const openai = h(
    "details",
    { class: "result-openai-wrap" },
    h("summary", {}, "OpenAI content block"),
    h("pre", { class: "result-openai" }, h("code", {}, text.openai)),
  );
  body.append(urlField, copies, openai);
  if (result.previewUrl) {
    // The hosted copy is cached now; free the local one once the real image shows.
    const img = preview.querySelector("img");
    const swap = h("img", { src: file.url, alt: "" });
    swap.addEventListener("load", () => {
      img?.replaceWith(swap);
      URL.revokeObjectURL(result.previewUrl);
    });
  }
}

function showError(result, message) {
  const { item, progress, status, body } = result;
  item.dataset.state = "error";
  progress.remove();
  status.remove();
  body.append(h("p", { class: "result-error", role: "alert" }, message));
  if (result.previewUrl) URL.revokeObjectURL(result.previewUrl);
}

// ---- file uploads -------------------------------------------------------------------------

const queue = [];
let running = 0;

function enqueue(files) {
  const key = requireKey();
  if (!key) return;
  const expires = expiresIn();
  for (const file of files) {
    // Most browsers cannot show HEIC: its preview is the hosted JPEG, once uploaded.
    const showable = file.type.startsWith("image/") && !/^image\/hei[cf]/.test(file.type);
    const preview = showable ? URL.createObjectURL(file) : null;
    const result = newResult(file.name || "pasted image", preview);
    queue.push({ file, key, expires, result });
  }
  pump();
}

function pump() {
  while (running < MAX_PARALLEL && queue.length) {
    const job = queue.shift();
    running += 1;
    upload(job).finally(() => {
      running -= 1;
      pump();
    });
  }
}

function upload({ file, key, expires, result }) {
  return new Promise((resolve) => {
    const form = new FormData();
    if (expires) form.append("expires_in", expires);
    form.append("file", file, file.name || "pasted.png");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/files/uploads");
    xhr.setRequestHeader("Authorization", `Bearer ${key}`);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "text";
    result.status.textContent = "Uploading…";
    result.progress.value = 0;
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) showProgress(result, event.loaded, event.total);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body && body.url) showSuccess(result, body);
      else showError(result, errorOf(body, xhr.status).message);
      resolve();
    });
    xhr.addEventListener("error", () => {
      showError(result, "The upload failed: the server could not be reached.");
      resolve();
    });
    xhr.addEventListener("abort", () => {
      showError(result, "The upload was cancelled.");
      resolve();
    });
    xhr.send(form);
  });
}

fileInput.addEventListener("change", () => {
  const files = [...fileInput.files];
  if (files.length) enqueue(files);
  fileInput.value = "";
});

// ---- drag and drop ------------------------------------------------------------------------

let dragDepth = 0;

dropZone.addEventListener("dragenter", (event) => {
  event.preventDefault();
  dragDepth += 1;
  dropZone.classList.add("dragging");
});
dropZone.addEventListener("dragover", (event) => {
  event.preventDefault();
  if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
});
dropZone.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) dropZone.classList.remove("dragging");
});
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  dragDepth = 0;
  dropZone.classList.remove("dragging");
  const files = [...(event.dataTransfer?.files || [])];
  if (files.length) enqueue(files);
});
// A file dropped next to the zone must not make the browser navigate away to it.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

// ---- paste --------------------------------------------------------------------------------

document.addEventListener("paste", (event) => {
  const files = [...(event.clipboardData?.files || [])];
  if (!files.length) return; // plain text pastes into fields as usual
  event.preventDefault();
  enqueue(files);
});

// ---- URL re-hosting -----------------------------------------------------------------------

urlForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const url = urlInput.value.trim();
  if (!url) {
    urlInput.focus();
    return;
  }
  const key = requireKey();
  if (!key) return;
  const payload = { url };
  const expires = expiresIn();
  if (expires) payload.expires_in = Number(expires);
  const result = newResult(url, null);
  result.progress.removeAttribute("value"); // indeterminate while the server fetches
  result.status.textContent = "Fetching…";
  urlSubmit.disabled = true;
  try {
    const file = await api(key, "POST", "/v1/files/uploads/url", { json: payload });
    showSuccess(result, file);
    urlInput.value = "";
  } catch (error) {
    showError(result, error.message);
  } finally {
    urlSubmit.disabled = false;
  }
});
