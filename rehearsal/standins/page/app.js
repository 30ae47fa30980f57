// The rehearsal page: draws the channel from /rehearsal/state (polled) and sends what a person
// does to /rehearsal/send, which signs it and posts it to /slack/events like Slack would.
// Message bodies arrive as HTML rendered (and escaped) by the server; everything else is set
// as text here.
"use strict";

const state = { me: null, last: "", shown: "", data: null, thread: null, modalId: null };
const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function initials(name) {
  return (name || "?").slice(0, 2).toUpperCase();
}

function avatar(entry) {
  const bot = entry.user === "U0BOT";
  const node = el("div", "avatar " + (bot ? "bot" : "person-" + (entry.user || "").slice(-3).toLowerCase()));
  node.textContent = bot ? "KM" : initials(entry.name);
  return node;
}

function message(entry, inThread) {
  const row = el("div", "message" + (entry.ephemeral ? " ephemeral" : ""));
  row.dataset.ts = entry.ts;
  row.appendChild(avatar(entry));
  const body = el("div", "message-body");
  const head = el("div", "message-head");
  head.appendChild(el("span", "name", entry.name));
  if (entry.user === "U0BOT") head.appendChild(el("span", "app-badge", "APP"));
  head.appendChild(el("span", "time", entry.time));
  if (entry.edited) head.appendChild(el("span", "edited", "(edited)"));
  body.appendChild(head);
  if (entry.ephemeral) body.appendChild(el("div", "only-you", "Only visible to you"));
  const content = el("div", "content");
  content.innerHTML = entry.html; // rendered and escaped by the server (standins/standins/render.py)
  body.appendChild(content);
  if (!inThread && entry.replies) {
    const link = el("button", "replies", entry.replies + (entry.replies === 1 ? " reply" : " replies"));
    link.dataset.thread = entry.ts;
    body.appendChild(link);
  }
  row.appendChild(body);
  return row;
}

function drawPeople(data) {
  const box = $("people");
  box.textContent = "";
  for (const person of data.people) {
    const item = el("button", "person" + (person.id === state.me ? " active" : ""));
    item.dataset.user = person.id;
    const face = avatar({ user: person.id, name: person.name });
    item.appendChild(face);
    const text = el("span", "person-text");
    text.appendChild(el("span", "person-name", person.name));
    text.appendChild(el("span", "person-role", person.role));
    item.appendChild(text);
    box.appendChild(item);
  }
}

function drawDemo(demo) {
  if (!demo) {
    $("demo").classList.add("hidden");
    return;
  }
  const where = (cluster) => (cluster ? "on " + cluster : "stopped");
  $("producer-state").textContent = where(demo.producer);
  $("producer-state").className = "pill " + (demo.producer ? "on" : "off");
  $("consumers-state").textContent = where(demo.consumers);
  $("consumers-state").className = "pill " + (demo.consumers ? "on" : "off");
  const groups = Object.entries(demo.groups).map(([g, n]) => g + ": " + n + " read").join(" · ");
  $("demo-note").textContent =
    "topics " + demo.pattern + " (except " + demo.exclude + ") · " + demo.produced + " produced" +
    (groups ? " · " + groups : "") + (demo.errors.length ? " · " + demo.errors.join("; ") : "");
  $("channel-topic").textContent =
    "Rehearsal on the local sandbox: sandbox-source → sandbox-target via sandbox-mm2, topics " +
    demo.pattern + ", connectors sandbox-connect-source → sandbox-connect-target";
  const connectors = demo.connectors;
  if (connectors) {
    $("connectors-state").textContent = connectors.appending ? "log growing" : "log still";
    $("connectors-state").className = "pill " + (connectors.appending ? "on" : "off");
    $("connectors-note").textContent =
      connectors.source + ": log file (" + connectors.lines + " lines) → " + connectors.topic +
      " · " + connectors.sink + ": " + connectors.topic + " → archive (" + connectors.archived +
      " lines)";
  }
}

function drawSuggestion(line) {
  const box = $("suggestion");
  if (!line) {
    box.classList.add("hidden");
    return;
  }
  $("suggestion-line").textContent = line;
  box.classList.remove("hidden");
}

function drawList(data) {
  const list = $("list");
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  list.textContent = "";
  for (const entry of data.messages) list.appendChild(message(entry, false));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function drawThread(data) {
  const panel = $("thread");
  if (!state.thread) {
    panel.classList.add("hidden");
    state.threadShown = null;
    return;
  }
  const parent = data.messages.find((m) => m.ts === state.thread);
  if (!parent) {
    panel.classList.add("hidden");
    return;
  }
  panel.classList.remove("hidden");
  const body = $("thread-body");
  const keep = body.scrollTop;
  body.textContent = "";
  body.appendChild(message(parent, true));
  const replies = data.threads[state.thread] || [];
  body.appendChild(el("div", "reply-count", replies.length + (replies.length === 1 ? " reply" : " replies")));
  for (const entry of replies) body.appendChild(message(entry, true));
  if (state.threadShown !== state.thread) {
    state.threadShown = state.thread; // just opened: its latest replies first
    body.scrollTop = body.scrollHeight;
  } else {
    body.scrollTop = keep;
  }
}

function drawModal(data) {
  const overlay = $("modal");
  const modal = data.modal;
  if (!modal) {
    overlay.classList.add("hidden");
    state.modalId = null;
    return;
  }
  if (state.modalId === modal.id) return; // keep what the person typed
  state.modalId = modal.id;
  $("modal-title").innerHTML = modal.title;
  $("modal-body").innerHTML = modal.html;
  $("modal-submit").innerHTML = modal.submit;
  $("modal-close").innerHTML = modal.close;
  overlay.classList.remove("hidden");
  const first = $("modal-body").querySelector("input, select");
  if (first) first.focus();
}

function draw(data) {
  state.data = data;
  drawPeople(data);
  drawDemo(data.demo);
  drawSuggestion(data.suggestion);
  // the channel and the thread are drawn again only when they changed (the demo's counters
  // change at every poll): a message being read or clicked stays the same element
  const shown = JSON.stringify([data.messages, data.threads, state.thread, state.me]);
  if (shown !== state.shown) {
    state.shown = shown;
    drawList(data);
    drawThread(data);
  }
  drawModal(data);
}

async function poll() {
  try {
    const answer = await fetch("/rehearsal/state?user=" + encodeURIComponent(state.me || ""));
    if (answer.ok) {
      const text = await answer.text();
      if (text !== state.last) {
        state.last = text;
        const data = JSON.parse(text);
        state.me = data.me;
        draw(data);
      }
    }
  } catch (err) {
    // the bot is stopping or restarting: try again on the next round
  }
  setTimeout(poll, 700);
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.classList.remove("hidden");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.add("hidden"), 6000);
}

async function post(path, body) {
  const answer = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await answer.json();
  } catch (err) {
    data = { ok: false, error: "no answer" };
  }
  if (!answer.ok || data.ok === false) toast("Not sent: " + (data.error || answer.status));
  state.last = ""; // draw the next state even if it looks the same
  return data;
}

function send(body) {
  return post("/rehearsal/send", Object.assign({ user: state.me }, body));
}

function showConfirm(template, go) {
  const box = $("confirm-box");
  box.textContent = "";
  box.appendChild(template.content.cloneNode(true));
  $("confirm").classList.remove("hidden");
  box.querySelector(".deny").addEventListener("click", () => $("confirm").classList.add("hidden"));
  box.querySelector(".confirm-go").addEventListener("click", () => {
    $("confirm").classList.add("hidden");
    go();
  });
}

function clickButton(button) {
  const row = button.closest("[data-ts]");
  if (!row) return;
  const go = () => send({ type: "block_actions", message_ts: row.dataset.ts, action_id: button.dataset.actionId });
  const template = button.parentElement.querySelector("template.confirm");
  if (template) showConfirm(template, go);
  else go();
}

async function submitModal() {
  const values = {};
  for (const field of $("modal-body").querySelectorAll("[data-block-id]")) {
    values[field.dataset.blockId] = field.value;
  }
  for (const slot of $("modal-body").querySelectorAll(".field-error")) slot.textContent = "";
  const answer = await send({ type: "view_submission", view_id: state.modalId, values: values });
  if (answer.errors) {
    for (const [block, html] of Object.entries(answer.errors)) {
      const slot = $("modal-body").querySelector('[data-block="' + CSS.escape(block) + '"] .field-error');
      if (slot) slot.innerHTML = html; // rendered and escaped by the server
    }
  } else if (answer.ok) {
    $("modal").classList.add("hidden");
  }
}

function closeModal() {
  if (state.modalId) send({ type: "view_closed", view_id: state.modalId });
  $("modal").classList.add("hidden");
}

document.addEventListener("click", (event) => {
  const target = event.target.closest("button");
  if (!target) return;
  if (target.classList.contains("slack-button")) {
    clickButton(target);
  } else if (target.dataset.thread) {
    state.thread = target.dataset.thread;
    if (state.data) drawThread(state.data);
  } else if (target.dataset.user) {
    state.me = target.dataset.user;
    state.last = "";
    state.modalId = null;
  } else if (target.id === "suggestion-line") {
    $("composer-input").value = target.textContent;
    $("composer-input").focus();
  } else if (target.dataset.clients) {
    post("/rehearsal/demo", { clients: target.dataset.clients, cluster: target.dataset.cluster || null });
  }
});

$("thread-close").addEventListener("click", () => {
  state.thread = null;
  $("thread").classList.add("hidden");
});
$("modal-submit").addEventListener("click", submitModal);
$("modal-close").addEventListener("click", closeModal);
$("modal-x").addEventListener("click", closeModal);
$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("composer-input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send({ type: "command", text: text });
});

poll();
