// The upload page: files from the picker, drag and drop or the clipboard go to
// POST /v1/files/uploads with live progress; URLs go to POST /v1/files/uploads/url.

import { api, bindKeyField, copyButton, errorOf, formatBytes, formatNumber, h, relativeTime, say } from "./api.js";

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

// ---- screenshot-tool configurations -----------------------------------------------------------

// The server writes each tool's file for the key it is asked with; the page saves it under
// the name that makes the tool import it when opened.
const INTEGRATION_FILES = {
  sharex: "imghost.sxcu",
  upic: "imghost-upic.json",
  picgo: "imghost-picgo.json",
};

async function downloadIntegration(tool) {
  const key = requireKey();
  if (!key) return;
  try {
    const config = await api(key, "GET", `/api/integrations/${tool}`);
    const blob = new Blob([JSON.stringify(config, null, 2) + "\n"], { type: "application/json" });
    const link = h("a", { href: URL.createObjectURL(blob), download: INTEGRATION_FILES[tool] });
    document.body.append(link);
    link.click();
    link.remove();
    // Freed once the browser has taken the download.
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (failure) {
    say(keyNotice, failure.message, "error");
  }
}

for (const button of document.querySelectorAll("[data-integration]")) {
  button.addEventListener("click", () => downloadIntegration(button.dataset.integration));
}

// ---- one result item per file or URL -------------------------------------------------------

// What each preset is for, in a word (the server names the presets; unknown ones show bare).
const PRESET_NOTES = {
  openai: "OpenAI, high detail",
  "openai-low": "OpenAI, low detail",
  claude: "Anthropic",
  "claude-hires": "Anthropic, high-res",
  gemini: "Gemini",
  kling: "Kling",
  runway: "Runway",
};

// The content blocks a model API takes for an image at a URL.
const BLOCKS = [
  { id: "openai-chat", label: "OpenAI Chat", title: "OpenAI Chat Completions",
    make: (url) => ({ type: "image_url", image_url: { url } }) },
  { id: "openai-responses", label: "OpenAI Responses", title: "OpenAI Responses",
    make: (url) => ({ type: "input_image", image_url: url }) },
  { id: "anthropic", label: "Anthropic", title: "Anthropic Messages",
    make: (url) => ({ type: "image", source: { type: "url", url } }) },
  { id: "gemini", label: "Gemini", title: "Gemini",
    make: (url, mime) => ({ file_data: { mime_type: mime, file_uri: url } }) },
];

function blockText(block, image) {
  return JSON.stringify(block.make(image.url, image.mime_type), null, 2);
}

function formats(url) {
  return {
    url,
    markdown: `![](${url})`,
    html: `<img src="${url.replaceAll("&", "&amp;").replaceAll('"', "&quot;")}">`,
  };
}

let resultCount = 0;

function newResult(name, previewUrl) {
  resultCount += 1;
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
  return { item, preview, body, progress, status, previewUrl, n: resultCount };
}

function showProgress(result, loaded, total) {
  if (total > 0) {
    const percent = Math.min(100, Math.round((loaded / total) * 100));
    result.progress.value = percent;
    result.status.textContent = percent < 100 ? `Uploading… ${percent}%` : "Checking the image…";
  }
}

function pixels(image) {
  return image.width && image.height ? `${image.width}×${image.height}` : "";
}

// The images a result can hand out: the original, then each variant, by preset ("" = original).
function imagesOf(file) {
  const images = new Map([["", { url: file.url, mime_type: file.mime_type, width: file.width, height: file.height }]]);
  for (const [preset, variant] of Object.entries(file.variants || {})) {
    if (variant && typeof variant.url === "string") images.set(preset, variant);
  }
  return images;
}

function showSuccess(result, file, key) {
  const { item, body, progress, status, preview } = result;
  item.dataset.state = "done";
  item.dataset.fileId = file.id;
  progress.remove();
  const details = [formatBytes(file.bytes ?? file.size), file.mime_type];
  if (file.width && file.height) details.push(`${file.width}×${file.height}`);
  details.push(file.expires_at ? `expires ${relativeTime(file.expires_at)}` : "never expires");
  status.textContent = details.filter(Boolean).join(" · ");

  const images = imagesOf(file);
  let chosen = images.get("");

  // The image every copy button below hands out: the original or one of its variants.
  const pickId = `use-${result.n}`;
  const pick = h(
    "select",
    { id: pickId, class: "result-use", "aria-describedby": `${pickId}-help` },
    [...images].map(([preset, image]) =>
      h("option", { value: preset }, [preset || "Original", pixels(image), PRESET_NOTES[preset]].filter(Boolean).join(" · ")),
    ),
  );
  const urlField = h("input", {
    class: "result-url",
    type: "text",
    readonly: true,
    value: file.url,
    "aria-label": "Image URL",
    spellcheck: "false",
  });
  urlField.addEventListener("focus", () => urlField.select());
  const open = h("a", { class: "button small ghost", href: file.url, target: "_blank", rel: "noopener" }, "Open");
  const copies = h(
    "div",
    { class: "result-copies", role: "group", "aria-label": "Copy the URL as" },
    copyButton("Copy URL", () => formats(chosen.url).url, { class: "button small primary", dataset: { copy: "url" } }),
    copyButton("Markdown", () => formats(chosen.url).markdown, { dataset: { copy: "markdown" } }),
    copyButton("HTML", () => formats(chosen.url).html, { dataset: { copy: "html" } }),
    open,
  );
  const blockButtons = h(
    "div",
    { class: "result-copies result-blocks", role: "group", "aria-labelledby": `${pickId}-blocks` },
    h("span", { id: `${pickId}-blocks`, class: "copies-label" }, "Copy a content block:"),
    BLOCKS.map((block) =>
      copyButton(block.label, () => blockText(block, chosen), { dataset: { copy: block.id }, title: `${block.title} content block` }),
    ),
  );
  const shown = BLOCKS.map((block) =>
    h("pre", { class: `result-block${block.id === "openai-chat" ? " result-openai" : ""}`, dataset: { block: block.id } }, h("code", {}, "")),
  );
  const blocksWrap = h(
    "details",
    { class: "result-openai-wrap" },
    h("summary", {}, "Show the content blocks"),
    BLOCKS.flatMap((block, i) => [h("p", { class: "block-title" }, block.title), shown[i]]),
  );
  const fill = () => {
    urlField.value = chosen.url;
    open.href = chosen.url;
    BLOCKS.forEach((block, i) => (shown[i].firstChild.textContent = blockText(block, chosen)));
  };
  fill();
  body.append(
    h("div", { class: "result-pick" }, h("label", { for: pickId }, "Image"), pick),
    h("p", { id: `${pickId}-help`, class: "help" }, "The URL and every copy button below use this image."),
    urlField,
    copies,
    blockButtons,
    blocksWrap,
  );

  const models = modelsSection(result, file);
  if (models) item.append(models.section);
  // Bytes of variants show once they are made: after this page fetched one, ask again.
  const refresh = async () => {
    try {
      const fresh = await api(key, "GET", `/v1/files/${encodeURIComponent(file.id)}`);
      models?.update(fresh);
    } catch {
      // The sizes stay as they were; nothing else depends on them.
    }
  };
  pick.addEventListener("change", () => {
    chosen = images.get(pick.value) || images.get("");
    fill();
    models?.choose(pick.value);
    if (pick.value && models && !models.made(pick.value)) warm(chosen.url).then(refresh);
  });

  // A small variant for the preview (the original may be tens of MB); its load makes it.
  const small = file.variants?.["openai-low"]?.url || file.url;
  const swap = h("img", { src: small, alt: "" });
  swap.addEventListener("error", () => {
    if (swap.getAttribute("src") !== file.url) swap.src = file.url;
  });
  swap.addEventListener("load", () => {
    preview.querySelector("img")?.remove();
    preview.append(swap);
    if (result.previewUrl) URL.revokeObjectURL(result.previewUrl);
    if (small !== file.url) refresh();
  });
}

// Fetch an image as <img> does (img-src allows the public URL's origin, connect-src may not):
// a variant's first fetch makes it, so a provider's fetch later finds it ready.
function warm(url) {
  return new Promise((resolve) => {
    const img = new Image();
    img.addEventListener("load", resolve);
    img.addEventListener("error", resolve);
    img.src = url;
  });
}

// Variants with their sizes, what each model sees and pays, and the server's warnings.
function modelsSection(result, file) {
  const variants = file.variants && typeof file.variants === "object" ? file.variants : null;
  const vision = file.vision && typeof file.vision === "object" ? file.vision : null;
  if (!variants && !vision) return null;
  const id = `models-${result.n}`;
  const section = h("section", { class: "result-models", "aria-labelledby": id });
  section.append(h("h3", { id, class: "models-title" }, "For models"));

  const warnings = Array.isArray(vision?.warnings) ? vision.warnings : [];
  if (warnings.length) {
    section.append(
      h("ul", { class: "result-warnings", "aria-label": "Warnings" }, warnings.map((text) => h("li", {}, String(text)))),
    );
  }
  const accepted = Object.entries(vision?.accepted_as_is || {});
  if (accepted.length) {
    const yes = accepted.filter(([, ok]) => ok).map(([name]) => name);
    const no = accepted.filter(([, ok]) => !ok).map(([name]) => name);
    section.append(
      h(
        "p",
        { class: "result-accepted small" },
        yes.length ? `Accepted as is by ${yes.join(", ")}.` : "",
        yes.length && no.length ? " " : "",
        no.length ? h("strong", {}, `Use a variant for ${no.join(", ")}.`) : "",
      ),
    );
  }

  const bytesCells = new Map();
  const grid = h("div", { class: "models-grid" });
  if (variants) {
    const rows = Object.entries(variants).map(([preset, variant]) => {
      const bytes = h("td", { class: "num variant-bytes" });
      bytesCells.set(preset, bytes);
      return h(
        "tr",
        { dataset: { preset } },
        h("th", { scope: "row" }, h("code", {}, preset), PRESET_NOTES[preset] ? h("div", { class: "muted small" }, PRESET_NOTES[preset]) : null),
        h("td", { class: "num variant-size" }, pixels(variant)),
        bytes,
        h("td", { class: "actions" }, h("a", { href: variant.url, target: "_blank", rel: "noopener", "aria-label": `Open the ${preset} variant` }, "Open")),
      );
    });
    grid.append(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table compact result-variants" },
          h("caption", {}, "Variants", h("span", { class: "muted small" }, " · bytes once made, on first fetch")),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Preset"), h("th", { scope: "col", class: "num" }, "Pixels"), h("th", { scope: "col", class: "num" }, "Bytes"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Link")))),
          h("tbody", {}, rows),
        ),
      ),
    );
  }
  const estimates = Object.entries(vision?.estimates || {});
  if (estimates.length) {
    const rows = estimates.map(([model, estimate]) =>
      h(
        "tr",
        { dataset: { model } },
        h("th", { scope: "row" }, h("code", {}, model)),
        h("td", { class: "num estimate-tokens", dataset: { tokens: estimate?.tokens ?? "" } }, formatNumber(estimate?.tokens)),
        h("td", { class: "num estimate-seen" }, Array.isArray(estimate?.seen) ? estimate.seen.join("×") : ""),
      ),
    );
    grid.append(
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "table compact result-estimates" },
          h("caption", {}, "Tokens per image", vision.rules_version ? h("span", { class: "muted small" }, ` · rules ${vision.rules_version}`) : null),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Model"), h("th", { scope: "col", class: "num" }, "Tokens"), h("th", { scope: "col", class: "num" }, "Seen as"))),
          h("tbody", {}, rows),
        ),
      ),
    );
  }
  section.append(grid);

  let known = variants || {};
  const update = (fresh) => {
    known = fresh?.variants || known;
    for (const [preset, cell] of bytesCells) {
      const made = known[preset]?.bytes;
      cell.textContent = made === null || made === undefined ? "—" : formatBytes(made);
      cell.dataset.bytes = made ?? "";
      cell.title = made === null || made === undefined ? "Not made yet: its first fetch makes it" : `${formatNumber(made)} bytes`;
    }
  };
  update(file);
  // The row of the image the copy buttons hand out stands out.
  const choose = (preset) => {
    for (const row of section.querySelectorAll("tr[data-preset]")) {
      row.classList.toggle("chosen", row.dataset.preset === preset);
    }
  };
  return { section, update, choose, made: (preset) => Boolean(known[preset]?.bytes) };
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
      if (xhr.status >= 200 && xhr.status < 300 && body && body.url) showSuccess(result, body, key);
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
    showSuccess(result, file, key);
    urlInput.value = "";
  } catch (error) {
    showError(result, error.message);
  } finally {
    urlSubmit.disabled = false;
  }
});
