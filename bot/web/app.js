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

async function ask(question) {
  const result = $("result");
  result.hidden = false;
  result.setAttribute("aria-busy", "true");
  $("status").textContent = "Je cherche…";
  $("answer").textContent = "";
  $("citations").replaceChildren();
  try {
    const response = await fetch("/v1/ask", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question }),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(typeof data.detail === "string" ? data.detail : "requête refusée");
    render(data);
  } catch (error) {
    $("status").textContent = "Désolé : " + error.message;
  } finally {
    result.setAttribute("aria-busy", "false");
  }
}

function render(data) {
  lastCitations = data.citations;
  $("status").textContent = data.found ? "" : "Pas de réponse sûre dans les sources.";
  $("citations-title").textContent = data.found ? "Sources" : "Passages proches (peut-être utiles)";
  const answer = $("answer");
  for (const part of data.answer.split(/(\[\d+\])/)) {
    const m = part.match(/^\[(\d+)\]$/);
    if (m) {
      answer.append(el("button", { type: "button", class: "marker", "data-n": m[1],
        "aria-label": `Voir la source ${m[1]}` }, part));
    } else {
      answer.append(document.createTextNode(part));
    }
  }
  for (const c of data.citations) {
    const passage = el("p", { class: "passage" });
    const a = c.sentence_start - c.start, b = c.sentence_end - c.start;
    passage.append(c.text.slice(0, a), el("mark", {}, c.text.slice(a, b)), c.text.slice(b));
    const open = el("button", { type: "button", class: "link", "data-n": String(c.n) }, "voir dans la source");
    $("citations").append(el("li", { id: `citation-${c.n}`, value: String(c.n) },
      el("strong", {}, c.title), " ", el("span", { class: "meta" }, `— caractères ${c.start}–${c.end} · `), open,
      passage));
  }
}

async function showSource(sourceId, start, end, sentenceStart, sentenceEnd, n) {
  const response = await fetch("/v1/sources/" + encodeURIComponent(sourceId));
  const data = await response.json();
  if (!response.ok) { $("status").textContent = "Désolé : " + data.detail; return; }
  const text = data.text;
  const box = $("source-text");
  const cuts = [0, start, sentenceStart, sentenceEnd, end, text.length];
  const sentence = el("mark", { class: "sentence", id: "cited-sentence" }, text.slice(sentenceStart, sentenceEnd));
  const passage = el("mark", { class: "passage", id: "cited-passage" },
    text.slice(start, sentenceStart), sentence, text.slice(sentenceEnd, end));
  box.replaceChildren(text.slice(cuts[0], cuts[1]), passage, text.slice(end));
  $("viewer-title").textContent = data.title;
  $("viewer-meta").textContent = `${data.path} · passage ${n ? "[" + n + "] " : ""}caractères ${start}–${end}`;
  $("viewer").hidden = false;
  document.querySelectorAll(".citations li").forEach((li) => li.classList.toggle("active", li.id === `citation-${n}`));
  passage.scrollIntoView({ block: "center" });
  box.focus({ preventScroll: true });
}

function openCitation(n) {
  const c = lastCitations.find((x) => x.n === n);
  if (c) {
    history.replaceState(null, "", c.url.slice(c.url.indexOf("#")));
    showSource(c.source_id, c.start, c.end, c.sentence_start, c.sentence_end, n);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = $("question").value.trim();
    if (q) ask(q); else $("question").focus();
  });
  document.body.addEventListener("click", (event) => {
    const target = event.target.closest("[data-n]");
    if (target) openCitation(Number(target.dataset.n));
  });
  $("close-viewer").addEventListener("click", () => { $("viewer").hidden = true; $("question").focus(); });
  const m = location.hash.match(/^#cite=([^:]+):(\d+)-(\d+):(\d+)-(\d+)$/);
  if (m) showSource(decodeURIComponent(m[1]), +m[2], +m[3], +m[4], +m[5], null);
});
