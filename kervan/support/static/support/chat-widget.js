/* Kervan live chat widget: plain ES2017, no dependencies. Put it on a shop's pages with
     <script async src="https://kervan.example.com/chat/widget.js" data-kervan-chat></script>
   or let the tracker load it (data-chat="true" on the tracker's script tag). Optional attributes: data-language
   ("tr" | "en"; else the page's <html lang>).
   Everything lives in a shadow root styled by /chat/widget.css (no inline styles: the shop's CSP may forbid them);
   every text from the server is rendered with textContent, never as HTML. The conversation's key is kept in
   localStorage: it is the visitor's only way back to it. Protocol: /tmp/chat_protocol.md (kervan/support/consumers.py). */
(function (w, d) {
  "use strict";
  if (w.kervanChat && w.kervanChat.loaded) return;
  const script = d.currentScript || d.querySelector("script[data-kervan-chat]") ||
    d.querySelector("script[src*='/chat/widget.js']");
  if (!script) return;
  const base = new URL(script.src).origin;
  const wsBase = base.replace(/^http/, "ws");
  const STORE = "kv_chat_key";
  const TEXTS = {
    tr: {
      open: "Canlı destek", title: "Canlı destek", close: "Kapat", start: "Sohbeti başlat",
      name: "Adınız (isteğe bağlı)", email: "E-posta (isteğe bağlı)", emailRequired: "E-posta adresiniz",
      message: "Mesajınız", send: "Gönder", placeholder: "Bir mesaj yazın…", typing: "Yazıyor…",
      waiting: "Bir temsilci birazdan sizinle olacak.", active: "{name} sizinle görüşüyor.",
      closed: "Sohbet sona erdi.", again: "Yeni sohbet", offline: "Şu anda çevrimiçi temsilcimiz yok. " +
        "Mesajınızı bırakın, size e-postayla dönelim.", offlineSend: "Mesajı gönder",
      thanks: "Teşekkürler! Talebiniz alındı: {ticket}.", reconnecting: "Bağlantı kuruluyor…",
      error: "Bir şeyler ters gitti; lütfen tekrar deneyin.", tooFast: "Çok hızlı yazıyorsunuz; birkaç saniye bekleyin.",
      you: "Siz", agent: "Temsilci", read: "Okundu", sent: "Gönderildi",
    },
    en: {
      open: "Live chat", title: "Live chat", close: "Close", start: "Start chat",
      name: "Your name (optional)", email: "Email (optional)", emailRequired: "Your email address",
      message: "Your message", send: "Send", placeholder: "Write a message…", typing: "Typing…",
      waiting: "An agent will be with you shortly.", active: "{name} is chatting with you.",
      closed: "The chat has ended.", again: "New chat", offline: "No agent is online right now. " +
        "Leave a message and we will answer by email.", offlineSend: "Send message",
      thanks: "Thank you! We received your request: {ticket}.", reconnecting: "Connecting…",
      error: "Something went wrong; please try again.", tooFast: "You are writing too fast; wait a few seconds.",
      you: "You", agent: "Agent", read: "Read", sent: "Sent",
    },
  };
  const asked = (script.getAttribute("data-language") || d.documentElement.lang || "tr").slice(0, 2).toLowerCase();
  const language = TEXTS[asked] ? asked : "tr";
  const t = TEXTS[language];

  function el(tag, className, text) {
    const node = d.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }
  function input(type, name, label, required) {
    const wrap = el("label", "kc-field");
    wrap.appendChild(el("span", "kc-label", label));
    const field = el(type === "textarea" ? "textarea" : "input", "kc-input");
    if (type !== "textarea") field.type = type;
    field.name = name;
    field.required = !!required;
    if (type === "email") field.autocomplete = "email";
    if (name === "message" || name === "body") field.maxLength = 4000;
    wrap.appendChild(field);
    return wrap;
  }
  function storedKey() { try { return localStorage.getItem(STORE); } catch (e) { return null; } }
  function storeKey(key) {
    try { if (key) localStorage.setItem(STORE, key); else localStorage.removeItem(STORE); } catch (e) { /* blocked */ }
  }
  function anonymousId() {
    if (w.kervan && typeof w.kervan.anonymousId === "function") return w.kervan.anonymousId();
    const m = d.cookie.match(/(?:^|; )kv_aid=([^;]+)/);
    try { return (m && decodeURIComponent(m[1])) || localStorage.getItem("kv_aid") || ""; } catch (e) { return ""; }
  }
  function api(path, body) {
    const options = body ? { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }
      : { method: "GET" };
    options.mode = "cors";
    options.credentials = "omit";
    return fetch(base + path, options).then((r) => r.json().then((data) => ({ status: r.status, data: data })));
  }

  // ------------------------------------------------------------------ the interface (in a shadow root)
  const host = el("div", "kervan-chat-host");
  const root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  const css = el("link");
  css.rel = "stylesheet";
  css.href = base + "/chat/widget.css";
  root.appendChild(css);
  const launcher = el("button", "kc-launcher", t.open);
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  const panel = el("section", "kc-panel");
  panel.hidden = true;
  panel.setAttribute("aria-label", t.title);
  panel.lang = language;
  const header = el("header", "kc-header");
  header.appendChild(el("strong", "kc-title", t.title));
  const closeButton = el("button", "kc-close", "×");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", t.close);
  header.appendChild(closeButton);
  const notice = el("p", "kc-notice");
  notice.setAttribute("role", "status");
  const list = el("ol", "kc-messages");
  list.setAttribute("aria-live", "polite");
  const typing = el("p", "kc-typing", t.typing);
  typing.hidden = true;

  const startForm = el("form", "kc-form kc-start");
  startForm.append(input("text", "name", t.name), input("email", "email", t.email), el("button", "kc-button", t.start));
  const offlineForm = el("form", "kc-form kc-offline");
  offlineForm.append(el("p", "kc-text", t.offline), input("text", "name", t.name),
    input("email", "email", t.emailRequired, true), input("textarea", "message", t.message, true),
    el("button", "kc-button", t.offlineSend));
  const composer = el("form", "kc-composer");
  const box = el("textarea", "kc-input kc-box");
  box.name = "body";
  box.maxLength = 4000;
  box.rows = 2;
  box.placeholder = t.placeholder;
  box.setAttribute("aria-label", t.message);
  composer.append(box, el("button", "kc-button", t.send));
  const again = el("button", "kc-button kc-again", t.again);
  again.type = "button";
  panel.append(header, notice, list, typing, startForm, offlineForm, composer, again);
  root.append(launcher, panel);

  function show(view) {
    startForm.hidden = view !== "start";
    offlineForm.hidden = view !== "offline";
    composer.hidden = view !== "chat";
    list.hidden = view !== "chat" && view !== "closed";
    again.hidden = view !== "closed";
    if (view !== "chat") typing.hidden = true;
  }
  function say(text) { notice.textContent = text || ""; notice.hidden = !text; }

  // ------------------------------------------------------------------ messages
  const shown = new Map(); // message id → its <li>
  let readUpto = 0;
  function render(message) {
    if (shown.has(message.id)) return;
    const item = el("li", "kc-message kc-" + message.sender);
    item.dataset.id = String(message.id);
    if (message.sender !== "system") {
      const who = message.sender === "visitor" ? t.you : (message.agent_name || t.agent);
      item.appendChild(el("span", "kc-who", who));
    }
    item.appendChild(el("span", "kc-body", message.body)); // text, never HTML
    if (message.sender === "visitor") {
      const tick = el("span", "kc-tick", "✓");
      tick.title = t.sent;
      item.appendChild(tick);
    }
    shown.set(message.id, item);
    list.appendChild(item);
    list.scrollTop = list.scrollHeight;
    markTicks();
  }
  function markTicks() {
    shown.forEach((item, id) => {
      const tick = item.querySelector(".kc-tick");
      if (tick && id <= readUpto && !tick.classList.contains("kc-read")) {
        tick.classList.add("kc-read");
        tick.textContent = "✓✓";
        tick.title = t.read;
      }
    });
  }
  let lastSeen = 0;
  function acknowledge() {
    if (panel.hidden || !ready) return;
    let last = 0;
    shown.forEach((item, id) => { if (!item.classList.contains("kc-visitor") && id > last) last = id; });
    if (last > lastSeen) {
      lastSeen = last;
      send({ type: "read", upto: last });
    }
  }

  // ------------------------------------------------------------------ the socket
  let socket = null, retries = 0, retryTimer = null, typingTimer = null, typingOn = false, typingShown = null;
  const outbox = []; // messages written while (re)connecting: sent once the server has said hello
  let ready = false;
  function send(frame, keep) {
    if (ready && socket && socket.readyState === 1) socket.send(JSON.stringify(frame));
    else if (keep) outbox.push(frame);
  }
  function status(frame) {
    if (frame.status === "closed") {
      say(t.closed);
      show("closed");
    } else {
      say(frame.status === "active" ? t.active.replace("{name}", frame.agent_name || t.agent) : t.waiting);
      show("chat");
    }
  }
  function connect() {
    const key = storedKey();
    if (!key || (socket && socket.readyState <= 1)) return;
    clearTimeout(retryTimer);
    socket = new WebSocket(wsBase + "/ws/chat/visitor/?key=" + encodeURIComponent(key));
    socket.onopen = () => { retries = 0; };
    socket.onmessage = (e) => {
      let frame;
      try { frame = JSON.parse(e.data); } catch (err) { return; }
      if (frame.type === "history") {
        ready = true;
        list.textContent = "";
        shown.clear();
        (frame.messages || []).forEach(render);
        status(frame.conversation);
        acknowledge();
        outbox.splice(0).forEach((queued) => send(queued));
      } else if (frame.type === "message") {
        render(frame.message);
        if (frame.message.sender !== "visitor") typing.hidden = true;
        acknowledge();
      } else if (frame.type === "status") {
        status(frame);
      } else if (frame.type === "typing") {
        typing.hidden = !frame.on;
        clearTimeout(typingShown);
        if (frame.on) typingShown = setTimeout(() => { typing.hidden = true; }, 6000);
      } else if (frame.type === "read") {
        readUpto = Math.max(readUpto, frame.upto || 0);
        markTicks();
      } else if (frame.type === "error") {
        if (frame.code === "not_found") { storeKey(null); socket.onclose = null; begin(); }
        else say(frame.code === "rate_limited" ? t.tooFast : (frame.detail || t.error));
      }
    };
    socket.onclose = (e) => {
      socket = null;
      ready = false;
      if (e.code === 4404) { storeKey(null); begin(); return; }
      say(t.reconnecting);
      // Back-off: 1 s, 2 s, 4 s … up to 30 s, with jitter so a restarted server is not hit by everyone at once.
      const delay = Math.min(30000, 1000 * Math.pow(2, retries++)) * (0.75 + Math.random() / 2);
      retryTimer = setTimeout(connect, delay);
    };
  }

  // ------------------------------------------------------------------ the flows
  function begin() {
    say("");
    if (storedKey()) { show("chat"); connect(); return; }
    api("/chat/status/").then((r) => show(r.data && r.data.agents_online ? "start" : "offline"))
      .catch(() => show("offline"));
  }
  startForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const form = new FormData(startForm);
    api("/chat/start/", { name: form.get("name") || "", email: form.get("email") || "", language: language,
      page_url: location.href.slice(0, 500), anonymous_id: anonymousId() }).then((r) => {
      if (r.status !== 201) { say((r.data && r.data.detail) || t.error); return; }
      storeKey(r.data.key);
      if (!r.data.agents_online) say(t.waiting);
      show("chat");
      connect();
      box.focus();
    }).catch(() => say(t.error));
  });
  offlineForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const form = new FormData(offlineForm);
    api("/chat/offline/", { name: form.get("name") || "", email: form.get("email") || "",
      message: form.get("message") || "", language: language, page_url: location.href.slice(0, 500),
      anonymous_id: anonymousId() }).then((r) => {
      if (r.status !== 201) { say((r.data && r.data.detail) || t.error); return; }
      offlineForm.reset();
      show("done");
      say(t.thanks.replace("{ticket}", r.data.ticket));
    }).catch(() => say(t.error));
  });
  composer.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = box.value.trim();
    if (!body) return;
    send({ type: "message", body: body }, true);
    box.value = "";
    stopTyping();
  });
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); composer.requestSubmit(); }
  });
  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingOn) { typingOn = false; send({ type: "typing", on: false }); }
  }
  box.addEventListener("input", () => {
    if (!typingOn) { typingOn = true; send({ type: "typing", on: true }); }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 2000);
  });
  again.addEventListener("click", () => {
    storeKey(null);
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    ready = false;
    outbox.length = 0;
    list.textContent = "";
    shown.clear();
    readUpto = lastSeen = 0;
    begin();
  });
  function toggle(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) { begin(); acknowledge(); }
  }
  launcher.addEventListener("click", () => toggle(panel.hidden));
  closeButton.addEventListener("click", () => toggle(false));

  function mount() {
    d.body.appendChild(host);
    if (storedKey()) connect(); // a conversation in progress carries on across pages
  }
  if (d.body) mount(); else d.addEventListener("DOMContentLoaded", mount);
  w.kervanChat = { loaded: true, open: () => toggle(true), close: () => toggle(false) };
})(window, document);
