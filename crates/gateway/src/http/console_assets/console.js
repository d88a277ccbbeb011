// Threadline agent console: lists conversations, shows one transcript, sends agent actions.
// Live updates arrive as server-sent events naming what changed; the page re-fetches.
"use strict";
let selected = null;
let typingTimer = null;
let lastTypingSent = 0;

const $ = (id) => document.getElementById(id);

async function api(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(path + " → " + response.status + " " + (await response.text()));
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
}

async function refreshList() {
  const conversations = await api("/console/api/conversations");
  for (const id of ["waiting", "active", "ended"]) $(id).replaceChildren();
  for (const c of conversations) {
    const li = document.createElement("li");
    li.dataset.id = c.id;
    if (c.id === selected) li.className = "selected";
    const who = document.createElement("div");
    who.textContent = c.user ? c.user.name + (c.authenticated ? " (signed in)" : "") : "Guest " + c.token.slice(0, 8);
    const state = document.createElement("div");
    state.className = "state" + (c.sessionState === "expired" ? " expired" : "");
    state.textContent = c.state + " · " + c.queue + " · " + (c.sessionState === "expired" ? "SESSION EXPIRED" : c.sockets + " socket(s)");
    li.append(who, state);
    li.addEventListener("click", () => select(c.id));
    const list = c.state === "queued" ? "waiting" : c.state === "agent" ? "active" : "ended";
    $(list).append(li);
  }
}

function describe(m) {
  if (m.type === "Event") {
    return (m.events || []).map((e) => e.eventType + (e.presence ? " " + e.presence.type : "")).join(", ");
  }
  let text = m.text || "";
  for (const c of m.content || []) {
    if (c.contentType === "Attachment" && c.attachment) text += "\n[attachment " + (c.attachment.filename || c.attachment.id) + "]";
    else if (c.contentType === "QuickReply" && c.quickReply) text += "\n[quick reply: " + c.quickReply.text + "]";
    else if (c.contentType === "ButtonResponse" && c.buttonResponse) text += "[" + c.buttonResponse.type + ": " + c.buttonResponse.text + "]";
    else text += "\n[" + c.contentType + "]";
  }
  return text;
}

function renderMessage(m) {
  const div = document.createElement("div");
  div.className = "msg " + (m.type === "Event" ? "event" : m.direction);
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = (m.channel && m.channel.time) || "";
  div.append(time, document.createTextNode(describe(m)));
  return div;
}

async function refreshTranscript() {
  if (!selected) return;
  const data = await api("/console/api/conversations/" + encodeURIComponent(selected));
  const c = data.conversation;
  $("title").textContent = "Conversation " + c.id.slice(0, 8) + (c.user ? " · " + c.user.name : "") + " · " + c.state + (c.sessionExpired ? " · customer session expired" : "");
  $("title").className = c.sessionExpired ? "expired" : "";
  const box = $("transcript");
  box.replaceChildren();
  // A signed-in customer's earlier conversations come first, each in its own marked block.
  for (const earlier of data.earlierConversations || []) {
    const section = document.createElement("section");
    section.className = "earlier";
    section.dataset.testid = "earlier-conversation";
    const heading = document.createElement("div");
    heading.className = "earlier-heading";
    heading.textContent = "Earlier conversation · " + earlier.startedAt + (earlier.endedAt ? " – " + earlier.endedAt : "");
    section.append(heading);
    for (const m of earlier.transcript) section.append(renderMessage(m));
    box.append(section);
  }
  if ((data.earlierConversations || []).length) {
    const divider = document.createElement("div");
    divider.className = "current-divider";
    divider.textContent = "Current conversation";
    box.append(divider);
  }
  for (const m of data.transcript) box.append(renderMessage(m));
  box.scrollTop = box.scrollHeight;
}

function select(id) {
  selected = id;
  for (const el of document.querySelectorAll("button, form input")) el.disabled = false;
  refreshList();
  refreshTranscript();
}

$("reply").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const quickReplies = form.quickReplies.value.split(",").map((s) => s.trim()).filter(Boolean);
  await post("/console/api/conversations/" + encodeURIComponent(selected) + "/messages", {
    text: form.text.value, quickReplies, imageUrl: form.imageUrl.value || null,
  });
  form.reset();
});

$("reply").text.addEventListener("input", () => {
  const now = Date.now();
  if (selected && now - lastTypingSent > 5000) {
    lastTypingSent = now;
    post("/console/api/conversations/" + encodeURIComponent(selected) + "/typing").catch(console.error);
  }
});

$("disconnect-send").addEventListener("click", () => post("/console/api/conversations/" + encodeURIComponent(selected) + "/disconnect", { readOnly: false }));
$("disconnect-readonly").addEventListener("click", () => post("/console/api/conversations/" + encodeURIComponent(selected) + "/disconnect", { readOnly: true }));
$("transfer").addEventListener("click", () => post("/console/api/conversations/" + encodeURIComponent(selected) + "/transfer", { queue: $("queue").value || "General" }));

const events = new EventSource("/console/events");
events.onmessage = (event) => {
  const change = JSON.parse(event.data);
  if (change.kind === "customerTyping") {
    if (change.conversationId === selected) {
      $("typing").textContent = "Customer is typing…";
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { $("typing").textContent = ""; }, 5000);
    }
    return;
  }
  refreshList();
  if (!change.conversationId || change.conversationId === selected) refreshTranscript();
};

refreshList();
