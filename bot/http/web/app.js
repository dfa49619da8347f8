// The chat page: ask, show the answer with clickable [n], show a cited passage highlighted in its source.
// Every piece of source text goes through textContent, never innerHTML, so hostile sources stay text.
"use strict";

const $ = (id) => document.getElementById(id);
let lastCitations = [];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

// A file name or title holding a newline or a right-to-left override (U+202E) would break the line or reverse
// the text after it: such characters are shown as \n or \u202e, and names sit in <bdi> so they cannot
// reorder what follows (the same set as index/printable.py).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
function inert(text) {
  return String(text).replace(UNSAFE, (ch) => ch === "\n" ? "\\n" : ch === "\t" ? "\\t"
    : "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"));
}

// An API key, when the server asks for one: kept in this browser only (localStorage), sent as a Bearer token.
const KEY = "sourcier-key";
function authHeaders(extra = {}) {
  const key = localStorage.getItem(KEY);
  return key ? { ...extra, Authorization: "Bearer " + key } : extra;
}
function askForKey(message) {
  $("key-form").hidden = false;
  $("key-hint").textContent = message;
  $("api-key").focus();
}

async function ask(question) {
  const result = $("result");
  result.hidden = false;
  result.setAttribute("aria-busy", "true");
  $("status").textContent = "Je cherche…";
  closeViewer(false);
  $("answer").textContent = "";
  $("citations").replaceChildren();
  $("see-also").replaceChildren();
  try {
    const response = await fetch("/v1/ask", {
      method: "POST", headers: authHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify({ question }),
    });
    if (response.status === 401) {
      askForKey(localStorage.getItem(KEY) ? "Cette clé d'accès est refusée (inconnue ou révoquée) : collez-en une autre."
        : "Ce serveur demande une clé d'accès : collez celle que l'équipe vous a donnée, puis reposez la question.");
      throw new Error("clé d'accès nécessaire");
    }
    const data = await response.json();
    if (!response.ok) throw new Error(typeof data.detail === "string" ? data.detail : "requête refusée");
    render(data);
  } catch (error) {
    $("status").textContent = "Désolé : " + error.message;
  } finally {
    result.setAttribute("aria-busy", "false");
  }
}

const LABELS = {
  fr: { sources: "Sources", seeAlso: "Voir aussi", closest: "Passages proches (peut-être utiles)",
        none: "Pas de réponse sûre dans les sources.", open: "voir dans la source", chars: "caractères",
        marker: "Voir la source", original: "original" },
  en: { sources: "Sources", seeAlso: "See also", closest: "Closest passages (maybe useful)",
        none: "No reliable answer in the sources.", open: "open in source", chars: "characters",
        marker: "Open source", original: "original" },
};

// Where a passage is, as a person reads it: « Titre › Section », and the PDF page when there is one.
function placeOf(title, section, page) {
  const heading = section && section !== title ? `${title} › ${section.split(" › ").slice(1).join(" › ")}` : title;
  return page ? `${heading}, p. ${page}` : heading;
}

function citationItem(c, words) {
  const where = placeOf(c.title, c.section, c.page);
  const open = el("button", { type: "button", class: "link", "data-n": String(c.n) }, words.open);
  const item = el("li", { id: `citation-${c.n}`, class: c.cited ? "cited" : "see-also" },
    el("span", { class: "num" }, `[${c.n}]`), " ",  // the number of the answer's [n] marker, not the list position
    el("strong", { title: `${words.chars} ${c.start}–${c.end}` }, el("bdi", {}, inert(where))), " · ", open);
  if (c.source_url && /^https?:\/\//.test(c.source_url)) {
    item.append(" · ", el("a", { href: c.source_url, rel: "noopener noreferrer", target: "_blank" }, words.original));
  }
  if (c.cited) {
    const passage = el("p", { class: "passage" });
    const a = c.sentence_start - c.start, b = c.sentence_end - c.start;
    passage.append(c.text.slice(0, a), el("mark", {}, c.text.slice(a, b)), c.text.slice(b));
    item.append(passage);
  } else {
    const text = c.text.replace(/\s+/g, " ");
    item.append(el("p", { class: "excerpt" }, text.length > 180 ? text.slice(0, 179) + "…" : text));
  }
  return item;
}

function render(data) {
  lastCitations = data.citations;
  const words = LABELS[data.language] || LABELS.fr;
  $("status").textContent = data.found || data.answer.trim() ? "" : words.none;  // the answer already says « Je ne sais pas »
  const cited = data.citations.filter((c) => c.cited);
  const others = data.citations.filter((c) => !c.cited);
  $("citations-title").textContent = data.found ? words.sources : words.closest;
  $("citations-title").hidden = data.found ? !cited.length : !others.length;
  const answer = $("answer");
  let short = data.found ? data.short : "";
  for (const part of data.answer.split(/(\[\d+\])/)) {
    const m = part.match(/^\[(\d+)\]$/);
    if (m) {
      answer.append(el("button", { type: "button", class: "marker", "data-n": m[1],
        "aria-label": `${words.marker} ${m[1]}` }, part));
    } else {
      for (const piece of part.split(/(`[^`\n]+`)/)) {  // a quoted command comes between backticks: show it as code
        const code = piece.match(/^`([^`\n]+)`$/);
        const at = !code && short ? piece.indexOf(short) : -1;
        if (code) answer.append(el("code", {}, code[1]));
        else if (at < 0) answer.append(document.createTextNode(piece));
        else {  // the short answer (a name, a date, a number) is highlighted where it first appears
          answer.append(piece.slice(0, at), el("mark", { class: "short" }, short), piece.slice(at + short.length));
          short = "";
        }
      }
    }
  }
  for (const c of cited) $("citations").append(citationItem(c, words));
  $("see-also-title").textContent = words.seeAlso;
  $("see-also-title").hidden = !(data.found && others.length);
  for (const c of others) (data.found ? $("see-also") : $("citations")).append(citationItem(c, words));
}

function closeViewer(focusQuestion) {
  $("viewer").hidden = true;
  $("source-text").replaceChildren();
  if (focusQuestion) $("question").focus();
}

function sourceMissing(detail) {
  $("viewer-title").textContent = "Source introuvable";
  $("viewer-meta").textContent = detail;
  $("source-text").replaceChildren();
  $("viewer").hidden = false;
  $("close-viewer").focus();
}

// The source's indexed text, or null once the viewer has said in French why it cannot be shown
// (the API's English detail is for developers, not for the person who followed a link).
async function fetchSource(sourceId) {
  let response;
  try {
    response = await fetch("/v1/sources/" + encodeURIComponent(sourceId), { headers: authHeaders() });
  } catch (error) {
    sourceMissing("Le serveur ne répond pas : vérifiez la connexion puis rechargez la page.");
    return null;
  }
  if (response.status === 401) {
    sourceMissing("Ce serveur demande une clé d'accès pour ouvrir les sources.");
    askForKey("Collez votre clé d'accès, puis rouvrez le lien.");
    return null;
  }
  if (response.status === 404) {
    sourceMissing(`Cette source n'est plus dans l'index : « ${inert(sourceId)} » a été supprimée ou renommée depuis `
      + "que ce lien a été créé. Posez la question à nouveau pour trouver les passages actuels.");
    return null;
  }
  if (!response.ok) {
    sourceMissing(`La source n'a pas pu être ouverte (erreur ${response.status}). Réessayez dans un instant.`);
    return null;
  }
  return response.json();
}

// Where the cited sentence is now: at its offsets, or moved by an edit (found again by its first words),
// or gone (null). Links made before they carried the words trust their offsets.
function relocate(text, sentenceStart, words) {
  if (!words || text.startsWith(words, sentenceStart)) return 0;
  const found = text.indexOf(words);
  return found < 0 ? null : found - sentenceStart;
}

async function showSource(sourceId, start, end, sentenceStart, sentenceEnd, n, words = "") {
  const data = await fetchSource(sourceId);
  if (data !== null) showPassage(data, sourceId, start, end, sentenceStart, sentenceEnd, n, words);
}

// A signed link (from a Slack answer) opens its passage's source without a key; the server says in French
// why a tampered, expired or outdated link is refused.
async function showSigned(token) {
  let response;
  try {
    response = await fetch("/v1/cite/" + encodeURIComponent(token));
  } catch (error) {
    sourceMissing("Le serveur ne répond pas : vérifiez la connexion puis rechargez la page.");
    return;
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    sourceMissing(typeof data.detail === "string" ? data.detail : `Ce lien n'a pas pu être ouvert (erreur ${response.status}).`);
    $("viewer-title").textContent = "Lien refusé";
    return;
  }
  showPassage(data, data.source_id, data.start, data.end, data.sentence_start, data.sentence_end, null, data.words);
}

function showPassage(data, sourceId, start, end, sentenceStart, sentenceEnd, n, words = "") {
  const text = data.text;
  const shift = relocate(text, sentenceStart, words);
  let note = "";
  if (shift === null) {
    note = "Le passage cité a changé depuis ce lien : voici où il se trouvait.";
  } else if (shift !== 0) {
    note = "La source a été modifiée depuis ce lien : le passage cité a été retrouvé.";
    [start, end, sentenceStart, sentenceEnd] = [start, end, sentenceStart, sentenceEnd].map((x) => x + shift);
  }
  if (shift === null) end = Math.min(end, text.length);
  if (!(start <= sentenceStart && sentenceStart <= sentenceEnd && sentenceEnd <= end && end <= text.length)) {
    sourceMissing(`Ce lien vers « ${inert(sourceId)} » ne correspond plus au texte indexé : la source a changé.`);
    return;
  }
  const box = $("source-text");
  const cuts = [0, start, sentenceStart, sentenceEnd, end, text.length];
  const sentence = el("mark", { class: "sentence", id: "cited-sentence" }, text.slice(sentenceStart, sentenceEnd));
  const passage = el("mark", { class: "passage", id: "cited-passage" },
    text.slice(start, sentenceStart), sentence, text.slice(sentenceEnd, end));
  box.replaceChildren(text.slice(cuts[0], cuts[1]), passage, text.slice(end));
  $("viewer-title").textContent = inert(data.title);
  const section = (data.sections || []).find((x) => x.start <= start && start < x.end);
  const where = section ? placeOf(data.title, section.path, section.page) : data.title;
  $("viewer-meta").replaceChildren(el("bdi", { class: "path" }, inert(data.path)), " · ",
    el("span", { class: "where", title: `caractères ${start}–${end}` }, `${n ? "[" + n + "] " : ""}${inert(where)}`),
    ...(note ? [el("span", { class: "moved", role: "status" }, " — " + note)] : []));
  $("viewer").hidden = false;
  document.querySelectorAll(".citations li").forEach((li) => li.classList.toggle("active", li.id === `citation-${n}`));
  passage.scrollIntoView({ block: "center" });
  box.focus({ preventScroll: true });
}

function openCitation(n) {
  const c = lastCitations.find((x) => x.n === n);
  if (c) {
    history.replaceState(null, "", c.url.slice(c.url.indexOf("#")));
    showSource(c.source_id, c.start, c.end, c.sentence_start, c.sentence_end, n);  // offsets of this very answer
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = $("question").value.trim();
    if (q) { ask(q); return; }
    $("result").hidden = false;
    $("answer").textContent = "";
    $("citations").replaceChildren();
    $("see-also").replaceChildren();
    $("citations-title").hidden = true;
    $("see-also-title").hidden = true;
    $("status").textContent = "Écrivez une question, par exemple « Qui dirige l'entreprise ? ».";
    $("question").focus();
  });
  document.body.addEventListener("click", (event) => {
    const target = event.target.closest("[data-n]");
    if (target) openCitation(Number(target.dataset.n));
  });
  $("close-viewer").addEventListener("click", () => closeViewer(true));
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (key) localStorage.setItem(KEY, key); else localStorage.removeItem(KEY);
    $("api-key").value = "";
    $("key-form").hidden = true;
    $("question").focus();
  });
  if (location.hash.startsWith("#cite=s1.")) {
    showSigned(location.hash.slice("#cite=".length));
  } else if (location.hash.startsWith("#cite=")) {
    const m = location.hash.match(/^#cite=([^:]+):(\d+)-(\d+):(\d+)-(\d+)(?::(.*))?$/);
    let id = null;
    let words = "";
    try { id = m ? decodeURIComponent(m[1]) : null; words = m && m[6] ? decodeURIComponent(m[6]) : ""; }
    catch (e) { id = null; }
    if (id === null) sourceMissing("Ce lien de citation est mal formé.");
    else showSource(id, +m[2], +m[3], +m[4], +m[5], null, words);
  }
});
