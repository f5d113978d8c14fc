// The live-chat console (support/chat/console.html): one WebSocket to /ws/chat/agent/ (the protocol is described in
// kervan/support/consumers.py), a list of waiting conversations and the agent's own, a pane per open conversation
// (one shown at a time, the others keep receiving), and beside it the visitor's summary and help articles.
// Every text that comes from a visitor, an agent or the server is set with textContent, never as HTML.
(function () {
  "use strict";

  const root = document.getElementById("chat-console");
  if (!root) return;
  const texts = JSON.parse(document.getElementById("chat-texts").textContent);
  const me = Number(root.dataset.me);
  const base = root.dataset.base; // "/support/chat/"
  const TYPING_IDLE_MS = 3000;

  const chats = new Map(); // id → {data, unread, pane, loaded, pending, seen, readUpto, lastVisitorId}
  let socket = null;
  let retry = 0;
  let focused = null;
  let refused = false;
  let reconnecting = false; // set after the first connection: a later one reloads the open panes' history

  function $(selector, within) { return (within || document).querySelector(selector); }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }
  function getJSON(url, options) {
    return fetch(url, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, options || {}))
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.detail || texts.failed);
          return body;
        });
      });
  }
  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); return true; }
    return false;
  }
  function setConnection(text) { $("#chat-connection").textContent = text; }

  // ---------------------------------------------------------------- the socket

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + root.dataset.socket);
    socket.addEventListener("open", function () {
      retry = 0;
      setConnection(texts.connected);
      root.dataset.connected = "1";
      send({ type: "presence", status: $("#chat-presence").value });
      if (reconnecting) chats.forEach(function (chat) { if (chat.loaded) loadHistory(chat); }); // what was missed
      reconnecting = true;
    });
    socket.addEventListener("message", function (event) {
      let frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      receive(frame);
    });
    socket.addEventListener("close", function (event) {
      root.dataset.connected = "";
      if (event.code === 4403) { refused = true; setConnection(texts.refused); return; }
      setConnection(texts.reconnecting);
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * Math.pow(2, retry - 1));
    });
  }

  function receive(frame) {
    if (frame.type === "conversations") {
      (frame.conversations || []).forEach(upsert);
      renderList();
    } else if (frame.type === "conversation") {
      upsert(frame.conversation);
      renderList();
    } else if (frame.type === "message") {
      onMessage(frame.conversation, frame.message);
    } else if (frame.type === "typing") {
      const chat = chats.get(frame.conversation);
      if (chat && chat.pane) $("[data-field=typing]", chat.pane).hidden = !frame.on;
    } else if (frame.type === "read") {
      const chat = chats.get(frame.conversation);
      if (chat) { chat.readUpto = Math.max(chat.readUpto, frame.upto || 0); renderTicks(chat); }
    } else if (frame.type === "error") {
      const chat = chats.get(frame.conversation) || (focused && chats.get(focused));
      showError(chat, frame.detail || texts.failed);
    }
  }

  // ---------------------------------------------------------------- the list

  function upsert(data) {
    if (!data || !data.id) return;
    let chat = chats.get(data.id);
    if (!chat) {
      chat = { data: data, unread: data.unread || 0, pane: null, loaded: false, pending: [], seen: new Set(),
               readUpto: 0, lastVisitorId: 0 };
      chats.set(data.id, chat);
    }
    const previous = chat.data;
    chat.data = Object.assign({}, previous, data);
    if (!data.stub) delete chat.data.stub;
    if (typeof data.unread === "number" && focused !== data.id) chat.unread = data.unread;
    if (chat.pane) renderPaneHead(chat);
    if (chat.pane && previous.assignee_id === me && chat.data.assignee_id && chat.data.assignee_id !== me) {
      showError(chat, texts.transferred);
    }
  }

  function listed(chat) {
    const d = chat.data;
    if (d.status === "waiting") return "waiting";
    if (d.status === "active" && d.assignee_id === me) return "mine";
    return null;
  }

  function visitorName(data) { return data.visitor_name || data.visitor_email || texts.visitor + " #" + data.id; }

  function renderList() {
    const waiting = $("#chat-waiting");
    const mine = $("#chat-mine");
    waiting.replaceChildren();
    mine.replaceChildren();
    const rows = Array.from(chats.values()).sort(function (a, b) {
      return String(b.data.last_message_at || "").localeCompare(String(a.data.last_message_at || ""));
    });
    rows.forEach(function (chat) {
      const where = listed(chat);
      if (!where) return;
      const item = el("li", "chat-item" + (chat.data.id === focused ? " active" : ""));
      item.dataset.chat = chat.data.id;
      const button = el("button", "link chat-open");
      button.type = "button";
      button.append(el("span", "chat-name", visitorName(chat.data)));
      if (chat.unread > 0) {
        const badge = el("span", "pill chat-unread", chat.unread);
        badge.dataset.unread = chat.unread;
        button.append(" ", badge);
      }
      button.addEventListener("click", function () { openChat(chat.data.id); });
      item.append(button);
      (where === "waiting" ? waiting : mine).append(item);
    });
    $("#chat-waiting-empty").hidden = waiting.children.length > 0;
    $("#chat-mine-empty").hidden = mine.children.length > 0;
    renderTabs();
  }

  function renderTabs() {
    const tabs = $("#chat-tabs");
    tabs.replaceChildren();
    chats.forEach(function (chat, id) {
      if (!chat.pane) return;
      const tab = el("a", "view-link" + (id === focused ? " active" : ""), visitorName(chat.data));
      tab.href = "#chat-" + id;
      tab.dataset.chat = id;
      if (chat.unread > 0) tab.append(" ", el("span", "pill", chat.unread));
      tab.addEventListener("click", function (event) { event.preventDefault(); openChat(id); });
      tabs.append(tab);
    });
    $("#chat-no-pane").hidden = tabs.children.length > 0;
  }

  // ---------------------------------------------------------------- a pane

  function openChat(id) {
    const chat = chats.get(id);
    if (!chat) return;
    if (!chat.pane) buildPane(chat);
    focused = id;
    chats.forEach(function (other) { if (other.pane) other.pane.hidden = other !== chat; });
    chat.unread = 0;
    markRead(chat);
    renderList();
    loadSide(chat);
    $("[data-field=input]", chat.pane).focus();
  }

  function buildPane(chat) {
    const id = chat.data.id;
    const pane = $("#chat-pane-template").content.firstElementChild.cloneNode(true);
    pane.id = "chat-" + id;
    pane.dataset.chat = id;
    chat.pane = pane;
    $("#chat-pane-box").append(pane);
    $("[data-field=transcript]", pane).href = base + id + "/";
    renderPaneHead(chat);
    bindPane(chat);
    loadHistory(chat);
    chat.cannedLoaded = getJSON(base + id + "/canned/").then(function (body) {
      const select = $("[data-field=canned]", pane);
      chat.shortcuts = {};
      body.replies.forEach(function (reply) {
        const option = el("option", null, reply.title + (reply.shortcut ? " (/" + reply.shortcut + ")" : ""));
        option.value = reply.id;
        select.append(option);
        if (reply.shortcut && !(reply.shortcut in chat.shortcuts)) chat.shortcuts[reply.shortcut] = reply.id;
      });
    }).catch(function () { /* the picker stays empty */ });
  }

  function loadHistory(chat) {
    const id = chat.data.id;
    getJSON(base + id + "/messages/").then(function (body) {
      chat.readUpto = Math.max(chat.readUpto, body.conversation.visitor_read_upto || 0);
      // The socket's frames are newer than this answer (a join may have landed meanwhile): they win, except over
      // a stand-in made for a message of a conversation not seen yet.
      const fresh = Object.assign({}, body.conversation);
      delete fresh.unread;
      chat.data = chat.data.stub ? fresh : Object.assign(fresh, chat.data, { ticket_url: chat.data.ticket_url || fresh.ticket_url });
      renderPaneHead(chat);
      renderList();
      chat.loaded = true;
      body.messages.forEach(function (message) { addMessage(chat, message); });
      chat.pending.splice(0).forEach(function (message) { addMessage(chat, message); });
      renderTicks(chat);
      if (focused === id) { markRead(chat); loadSuggestions(chat); }
    }).catch(function (error) { showError(chat, error.message); });
  }

  function renderPaneHead(chat) {
    const pane = chat.pane;
    const d = chat.data;
    $("[data-field=visitor]", pane).textContent = visitorName(d);
    $("[data-field=email]", pane).textContent = d.visitor_name && d.visitor_email ? d.visitor_email : "";
    const status = $("[data-field=status]", pane);
    status.textContent = { waiting: texts.waiting, active: texts.active, closed: texts.closed_status }[d.status] || d.status;
    status.dataset.status = d.status;
    const page = $("[data-field=page]", pane);
    page.textContent = d.page_url || "";
    if (/^https?:\/\//i.test(d.page_url || "")) page.href = d.page_url; else page.removeAttribute("href");
    const mine = d.status === "active" && d.assignee_id === me;
    $("[data-action=join]", pane).hidden = d.status !== "waiting";
    $("[data-action=transfer]", pane).hidden = !mine;
    $("[data-field=transfer]", pane).closest("label").hidden = !mine;
    $("[data-action=close]", pane).hidden = d.status === "closed";
    $("[data-action=ticket]", pane).hidden = Boolean(d.ticket);
    const ticket = $("[data-field=ticket]", pane);
    ticket.hidden = !d.ticket;
    if (d.ticket) { ticket.textContent = d.ticket; if (d.ticket_url) ticket.href = d.ticket_url; }
    const compose = $("[data-field=compose]", pane);
    compose.hidden = !mine;
    if (d.status === "closed") $("[data-field=typing]", pane).hidden = true;
  }

  function addMessage(chat, message) {
    if (!chat.loaded) { chat.pending.push(message); return; }
    if (chat.seen.has(message.id)) return;
    chat.seen.add(message.id);
    const list = $("[data-field=messages]", chat.pane);
    const item = el("li", "chat-message from-" + message.sender);
    item.dataset.id = message.id;
    const who = message.sender === "agent" ? (message.agent_name || texts.system)
      : message.sender === "visitor" ? visitorName(chat.data) : texts.system;
    const at = message.at ? new Date(message.at) : null;
    item.append(el("span", "chat-meta", who + (at ? " · " + at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "")));
    item.append(el("span", "chat-body", message.body));
    if (message.sender === "agent") item.append(el("span", "chat-tick"));
    list.append(item);
    list.scrollTop = list.scrollHeight;
    if (message.sender === "visitor") {
      chat.lastVisitorId = Math.max(chat.lastVisitorId, message.id);
      $("[data-field=typing]", chat.pane).hidden = true;
    }
    renderTicks(chat);
  }

  function renderTicks(chat) {
    if (!chat.pane) return;
    chat.pane.querySelectorAll(".from-agent").forEach(function (item) {
      const read = Number(item.dataset.id) <= chat.readUpto;
      const tick = $(".chat-tick", item);
      tick.textContent = read ? "✓✓" : "✓";
      tick.title = read ? texts.read : texts.sent;
      tick.dataset.read = read ? "1" : "";
    });
  }

  function onMessage(id, message) {
    let chat = chats.get(id);
    if (!chat) { upsert({ id: id, status: "waiting", stub: true }); chat = chats.get(id); }
    chat.data.last_message_at = message.at;
    if (chat.pane) addMessage(chat, message);
    if (message.sender === "visitor") {
      if (focused === id && !document.hidden) {
        markRead(chat);
        loadSuggestions(chat);
      } else {
        chat.unread += 1;
      }
    }
    renderList();
  }

  function markRead(chat) {
    if (chat.lastVisitorId && chat.data.status !== "waiting") {
      send({ type: "read", conversation: chat.data.id, upto: chat.lastVisitorId });
    }
  }

  function showError(chat, text) {
    if (!chat || !chat.pane) { setConnection(text); return; }
    const box = $("[data-field=error]", chat.pane);
    box.textContent = text;
    box.hidden = false;
    setTimeout(function () { box.hidden = true; }, 6000);
  }

  function insertText(input, text) {
    const start = input.selectionStart || 0;
    const end = input.selectionEnd || 0;
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    input.selectionStart = input.selectionEnd = start + text.length;
    input.focus();
  }

  function useCanned(chat, replyId, replaceAll) {
    const input = $("[data-field=input]", chat.pane);
    return getJSON(base + chat.data.id + "/canned/" + replyId + "/").then(function (body) {
      if (replaceAll) input.value = "";
      insertText(input, body.text);
    }).catch(function (error) { showError(chat, error.message); });
  }

  function bindPane(chat) {
    const pane = chat.pane;
    const id = chat.data.id;
    const input = $("[data-field=input]", pane);
    let typingTimer = null;
    function stopTyping() {
      if (typingTimer) { clearTimeout(typingTimer); typingTimer = null; send({ type: "typing", conversation: id, on: false }); }
    }
    input.addEventListener("input", function () {
      if (!typingTimer) send({ type: "typing", conversation: id, on: true });
      else clearTimeout(typingTimer);
      typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
    });
    input.addEventListener("keydown", function (event) {
      if ((event.key !== "Enter" && event.key !== "Tab") || event.shiftKey) return;
      const shortcut = /^\/([\w-]+)$/.exec(input.value.trim());
      if (shortcut) {
        // "/name": the canned reply of that shortcut (once the list is in); a text that only looks like one is sent.
        event.preventDefault();
        const key = event.key;
        chat.cannedLoaded.then(function () {
          const name = shortcut[1].toLowerCase();
          if (chat.shortcuts && name in chat.shortcuts) useCanned(chat, chat.shortcuts[name], true);
          else if (key === "Enter") $("[data-field=compose]", pane).requestSubmit();
        });
      } else if (event.key === "Enter") {
        event.preventDefault();
        $("[data-field=compose]", pane).requestSubmit();
      }
    });
    $("[data-field=compose]", pane).addEventListener("submit", function (event) {
      event.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      if (send({ type: "message", conversation: id, body: body })) {
        input.value = "";
        stopTyping();
      } else {
        showError(chat, texts.reconnecting);
      }
    });
    $("[data-field=canned]", pane).addEventListener("change", function (event) {
      const replyId = event.target.value;
      event.target.value = "";
      if (replyId) useCanned(chat, replyId, false);
    });
    $("[data-action=join]", pane).addEventListener("click", function () { send({ type: "join", conversation: id }); });
    $("[data-action=close]", pane).addEventListener("click", function () { send({ type: "close", conversation: id }); });
    const transfer = $("[data-field=transfer]", pane);
    transfer.addEventListener("focus", function () { loadAgents(transfer); });
    loadAgents(transfer);
    $("[data-action=transfer]", pane).addEventListener("click", function () {
      const to = Number(transfer.value);
      if (to) send({ type: "transfer", conversation: id, to: to });
    });
    $("[data-action=ticket]", pane).addEventListener("click", function (event) {
      event.target.disabled = true;
      getJSON(base + id + "/ticket/", { method: "POST", headers: { Accept: "application/json", "X-CSRFToken": csrf() } })
        .then(function (body) {
          chat.data.ticket = body.ticket;
          chat.data.ticket_url = body.url;
          renderPaneHead(chat);
        })
        .catch(function (error) { showError(chat, error.message); })
        .finally(function () { event.target.disabled = false; });
    });
  }

  function loadAgents(select) {
    getJSON(base + "agents/").then(function (body) {
      const chosen = select.value;
      const first = select.options[0];
      select.replaceChildren(first);
      body.agents.forEach(function (agent) {
        const option = el("option", null, agent.name);
        option.value = agent.id;
        select.append(option);
      });
      select.value = chosen;
    }).catch(function () { /* keeps the last list */ });
  }

  // ---------------------------------------------------------------- beside the pane

  function loadSide(chat) {
    const target = $("#chat-summary");
    target.dataset.chat = chat.data.id;
    if (window.htmx) {
      window.htmx.ajax("GET", base + chat.data.id + "/summary/", { target: "#chat-summary", swap: "innerHTML" });
    }
    loadSuggestions(chat);
  }

  function loadSuggestions(chat) {
    const id = chat.data.id;
    getJSON(base + id + "/suggestions/").then(function (body) {
      if (focused !== id) return;
      const list = $("#chat-suggestions");
      list.replaceChildren();
      body.articles.forEach(function (article) {
        const item = el("li");
        const link = el("a", null, article.title);
        link.href = article.path;
        link.target = "_blank";
        link.rel = "noopener";
        const paste = el("button", "link chat-paste", texts.paste);
        paste.type = "button";
        paste.dataset.url = article.url;
        paste.addEventListener("click", function () {
          const current = chats.get(focused);
          if (current && current.pane) insertText($("[data-field=input]", current.pane), article.url);
        });
        item.append(link, " ", paste);
        list.append(item);
      });
      $("#chat-suggestions-box").hidden = false;
      $("#chat-suggestions-empty").hidden = body.articles.length > 0;
    }).catch(function () { /* suggestions are a help, not a must */ });
  }

  $("#chat-presence").addEventListener("change", function (event) {
    send({ type: "presence", status: event.target.value });
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && focused && chats.get(focused)) markRead(chats.get(focused));
  });
  renderList();
  if (!refused) connect();
})();
