/* Kervan tracker: plain ES2017, no dependencies. Queues events and sends them in batches to Kervan.
   Every event carries its own id, so a retried batch is stored once. */
(function (w, d) {
  "use strict";
  const stub = w.kervan || {};
  if (stub.loaded) return;
  const script = d.currentScript || d.querySelector("script[data-key][src*='tracker.js']");
  if (!script) return;
  const key = script.getAttribute("data-key");
  const endpoint = new URL("/events/collect", script.src).href;
  const NAME = "kv_aid", MAX = 50;
  if (script.getAttribute("data-chat") === "true") { // the live chat widget, from the same Kervan
    const chat = d.createElement("script");
    chat.async = true;
    chat.src = new URL("/chat/widget.js", script.src).href;
    chat.setAttribute("data-kervan-chat", "");
    (d.head || d.documentElement).appendChild(chat);
  }
  let queue = [], timer = null, wait = 0;

  function uuid() {
    const c = w.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    const b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.random() * 256 | 0;
    b[6] = b[6] & 15 | 64; b[8] = b[8] & 63 | 128;
    const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  function visitorId() {
    const m = d.cookie.match(/(?:^|; )kv_aid=([^;]+)/);
    let id = m && decodeURIComponent(m[1]);
    try { id = id || localStorage.getItem(NAME); } catch (e) { /* storage blocked */ }
    id = id || uuid();
    d.cookie = NAME + "=" + encodeURIComponent(id) + "; path=/; max-age=31536000; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
    try { localStorage.setItem(NAME, id); } catch (e) { /* storage blocked */ }
    return id;
  }
  const anonymousId = visitorId();

  function body(items) {
    return JSON.stringify({ key: key, sent_at: new Date().toISOString(), batch: items });
  }

  function flush(leaving) {
    clearTimeout(timer); timer = null;
    if (!queue.length) return;
    const items = queue.splice(0, MAX), data = body(items);
    if (leaving && navigator.sendBeacon && navigator.sendBeacon(endpoint, new Blob([data], { type: "text/plain" }))) {
      flush(true);
      return;
    }
    // text/plain keeps this a "simple" request: no CORS preflight. keepalive bodies are capped at 64 KB.
    fetch(endpoint, { method: "POST", body: data, headers: { "Content-Type": "text/plain" }, mode: "cors",
      credentials: "omit", keepalive: data.length < 60000 })
      .then((r) => {
        if (r.status === 429 || r.status >= 500) {
          const after = parseInt(r.headers.get("Retry-After"), 10);
          throw new Error(after > 0 ? String(after * 1000) : "retry");
        }
        wait = 0; // other refusals are final: the same events would be refused again
        if (queue.length) flush();
      })
      .catch((e) => {
        queue = items.concat(queue).slice(-500);
        const asked = parseInt(e && e.message, 10) || 0; // the server's Retry-After, if it said one
        wait = Math.min(Math.max((wait || 1000) * 2, asked), 600000);
        timer = setTimeout(flush, wait);
      });
  }

  function push(item, now) {
    item.anonymous_id = anonymousId;
    queue.push(item);
    if (now || queue.length >= MAX) flush();
    else if (!timer) timer = setTimeout(flush, 1000);
  }

  function track(name, properties) {
    push({ type: "track", event_id: uuid(), name: String(name), occurred_at: new Date().toISOString(),
      properties: properties || {} });
  }

  // identify({email, phone, user_id, first_name, …}, {signature}): the signature comes from the shop's server
  // (hex HMAC-SHA256 of user_id, or else the email, with the site's identity secret). Without it Kervan only makes a
  // new profile for a visitor who has none. Sent in its own request, so a refused identify loses no events.
  function identify(who, options) {
    const item = { type: "identify", traits: {} };
    Object.keys(who || {}).forEach((k) => {
      if (k === "email" || k === "phone" || k === "user_id") item[k] = who[k] == null ? who[k] : String(who[k]);
      else item.traits[k] = who[k];
    });
    if (options && options.signature) item.signature = String(options.signature);
    flush();
    push(item, true);
  }

  const api = {
    loaded: true,
    track: track,
    identify: identify,
    viewedProduct: (p) => track("Viewed Product", p),
    addedToCart: (p) => track("Added to Cart", p),
    startedCheckout: (p) => track("Started Checkout", p),
    flush: () => flush(),
    anonymousId: () => anonymousId,
  };
  w.kervan = api;
  d.addEventListener("visibilitychange", () => { if (d.visibilityState === "hidden") flush(true); });
  w.addEventListener("pagehide", () => flush(true));

  track("Viewed Page", { url: location.href, path: location.pathname, title: d.title, referrer: d.referrer });
  (stub.q || []).forEach((call) => { if (api[call[0]]) api[call[0]].apply(null, call[1]); });
})(window, document);
