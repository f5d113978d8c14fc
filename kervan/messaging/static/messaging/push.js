/* Kervan web push: the subscribe prompt a storefront shows next to the tracker. Plain ES2017, no dependencies,
   no inline script or eval, so it runs under a Content-Security-Policy of script-src 'self' (plus Kervan's origin,
   or copy this file to the shop) and connect-src with Kervan's origin.

     <script src="https://crm.example.com/static/messaging/push.js" data-key="SITE KEY"
             data-sw="/kervan-push-sw.js" data-prompt="auto" defer></script>

   or, from the shop's own script file:

     KervanPush.prompt({siteKey: "…", serviceWorkerUrl: "/kervan-push-sw.js", language: "tr",
                        text: {title: "…", body: "…", accept: "…", decline: "…"}}).then(function (state) { … });

   prompt() shows a small consent box; only when the visitor accepts does the browser ask for permission (browsers
   mute sites that ask on page load), then the service worker (kervan-push-sw.js, served from the shop's origin) is
   registered, the browser subscribed with Kervan's VAPID public key, and the subscription sent to Kervan with the
   tracker's visitor id, so it joins the customer once the visitor is identified. A "not now" is remembered for
   askAgainDays. Every page view after that re-sends the subscription if it changed. The answer is one of
   "subscribed", "declined", "denied", "unsupported", "error". A shop with its own button may call
   KervanPush.subscribe(options) from its click handler instead; KervanPush.unsubscribe(options) undoes it. */
(function (w, d) {
  "use strict";
  if (w.KervanPush && w.KervanPush.loaded) return;
  const script = d.currentScript;
  const DECLINED = "kv_push_declined", SENT = "kv_push_sent", KEY = "kv_push_key", DAY = 86400000;
  const TEXT = {
    tr: {
      title: "Bildirimlere izin verir misiniz?",
      body: "Kampanyalardan ve yeniliklerden ilk siz haberdar olun. İstediğiniz zaman kapatabilirsiniz.",
      accept: "Evet, haber ver",
      decline: "Şimdi değil",
    },
    en: {
      title: "Allow notifications?",
      body: "Be the first to hear about offers and news. You can turn them off at any time.",
      accept: "Yes, notify me",
      decline: "Not now",
    },
  };

  function data(name) {
    return script ? script.getAttribute("data-" + name) : null;
  }

  function settings(options) {
    const o = options || {};
    const tracker = d.querySelector("script[data-key][src*='tracker.js']");
    const base = o.apiBase || data("api") || (script ? new URL("/m/push/", script.src).href : "");
    const language = String(o.language || data("language") || d.documentElement.lang || "en").slice(0, 2);
    return {
      apiBase: base.replace(/\/?$/, "/"),
      siteKey: o.siteKey || data("key") || (tracker && tracker.getAttribute("data-key")) || "",
      serviceWorkerUrl: o.serviceWorkerUrl || data("sw") || "/kervan-push-sw.js",
      text: Object.assign({}, TEXT[language] || TEXT.en, o.text || {}),
      askAgainDays: o.askAgainDays == null ? 30 : Number(o.askAgainDays),
    };
  }

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in w && "Notification" in w && w.isSecureContext;
  }

  function store(name, value) {
    try {
      if (value == null) localStorage.removeItem(name);
      else localStorage.setItem(name, value);
    } catch (e) { /* storage blocked: the prompt may show again, nothing worse */ }
  }

  function stored(name) {
    try { return localStorage.getItem(name); } catch (e) { return null; }
  }

  function visitor() {
    return w.kervan && typeof w.kervan.anonymousId === "function" ? w.kervan.anonymousId() : "";
  }

  function call(s, path, body) {
    const init = body === undefined ? { method: "GET" } :
      // text/plain keeps the request "simple": no CORS preflight (Kervan reads the body as JSON whatever its type).
      { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "text/plain" } };
    init.mode = "cors";
    init.credentials = "omit";
    const url = s.apiBase + path + (body === undefined ? "?key=" + encodeURIComponent(s.siteKey) : "");
    return fetch(url, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (answer) {
        if (!r.ok) throw new Error((answer && answer.detail) || "HTTP " + r.status);
        return answer;
      });
    });
  }

  function keyBytes(base64url) {
    const text = base64url.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(text + "=".repeat((4 - text.length % 4) % 4));
    return Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
  }

  function sameKey(buffer, bytes) {
    if (!buffer) return false;
    const a = new Uint8Array(buffer);
    return a.length === bytes.length && a.every(function (x, i) { return x === bytes[i]; });
  }

  // pushManager.subscribe needs an active worker; a first registration is still installing.
  function activeRegistration(url) {
    return navigator.serviceWorker.register(url).then(function (registration) {
      if (registration.active) return registration;
      const worker = registration.installing || registration.waiting;
      return new Promise(function (resolve, reject) {
        worker.addEventListener("statechange", function () {
          if (worker.state === "activated") resolve(registration);
          if (worker.state === "redundant") reject(new Error("the service worker did not install"));
        });
      });
    });
  }

  function permission() {
    return new Promise(function (resolve) {
      const asked = Notification.requestPermission(resolve); // older Safari answers through the callback only
      if (asked && asked.then) asked.then(resolve);
    });
  }

  // Kervan's VAPID public key, kept a day so that a subscribed visitor's page views do not each ask for it.
  function publicKey(s) {
    const kept = (stored(KEY) || "").split(" ");
    if (kept.length === 3 && kept[0] === s.apiBase && Date.now() - Number(kept[1]) < DAY) {
      return Promise.resolve(kept[2]);
    }
    return call(s, "key").then(function (answer) {
      store(KEY, [s.apiBase, Date.now(), answer.publicKey].join(" "));
      return answer.publicKey;
    });
  }

  // Subscribe (or keep the subscription there is, if it was made with Kervan's current key) and send it.
  function register(s) {
    return Promise.all([activeRegistration(s.serviceWorkerUrl), publicKey(s)]).then(function (got) {
      const registration = got[0], key = keyBytes(got[1]);
      return registration.pushManager.getSubscription().then(function (current) {
        if (current && sameKey(current.options.applicationServerKey, key)) return current;
        const fresh = function () {
          return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        };
        return current ? current.unsubscribe().then(fresh) : fresh();
      });
    }).then(function (subscription) {
      const json = subscription.toJSON();
      const sent = json.endpoint + " " + visitor();
      if (stored(SENT) === sent) return "subscribed";
      return call(s, "subscribe", { key: s.siteKey, subscription: json, anonymous_id: visitor() }).then(function () {
        store(SENT, sent);
        return "subscribed";
      });
    });
  }

  function subscribe(options) {
    const s = settings(options);
    if (!supported() || !s.siteKey) return Promise.resolve("unsupported");
    return permission().then(function (answer) {
      if (answer !== "granted") return answer === "denied" ? "denied" : "declined";
      store(DECLINED, null);
      return register(s);
    }).catch(function () { return "error"; });
  }

  function unsubscribe(options) {
    const s = settings(options);
    if (!supported()) return Promise.resolve("unsupported");
    return navigator.serviceWorker.getRegistration(s.serviceWorkerUrl).then(function (registration) {
      return registration && registration.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) return "unsubscribed";
      const endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(function () {
        store(SENT, null);
        return call(s, "unsubscribe", { key: s.siteKey, endpoint: endpoint });
      }).then(function () { return "unsubscribed"; });
    }).catch(function () { return "error"; });
  }

  function box(s, resolve) {
    const panel = d.createElement("div"), title = d.createElement("strong"), body = d.createElement("p");
    const accept = d.createElement("button"), decline = d.createElement("button");
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-live", "polite");
    panel.className = "kervan-push-prompt"; // a shop may restyle it through this class
    title.textContent = s.text.title;
    body.textContent = s.text.body;
    accept.textContent = s.text.accept;
    decline.textContent = s.text.decline;
    accept.type = decline.type = "button";
    // Styles through the CSSOM, which a CSP without 'unsafe-inline' styles still allows (style attributes are not).
    Object.assign(panel.style, {
      position: "fixed", left: "16px", bottom: "16px", zIndex: "2147483000", maxWidth: "340px", padding: "16px",
      background: "#fff", color: "#1f2937", borderRadius: "10px", boxShadow: "0 6px 24px rgba(0,0,0,.18)",
      font: "14px/1.45 system-ui, sans-serif",
    });
    Object.assign(body.style, { margin: "6px 0 12px" });
    [accept, decline].forEach(function (b, i) {
      Object.assign(b.style, {
        marginRight: "8px", padding: "7px 14px", borderRadius: "6px", cursor: "pointer", font: "inherit",
        border: i ? "1px solid #d1d5db" : "0", background: i ? "#fff" : "#1d4ed8", color: i ? "#374151" : "#fff",
      });
    });
    panel.append(title, body, accept, decline);
    function close(next) {
      panel.remove();
      resolve(next);
    }
    // The browser's own permission question must come from this click: it is refused without a user gesture.
    accept.addEventListener("click", function () { close(subscribe(s)); });
    decline.addEventListener("click", function () {
      store(DECLINED, String(Date.now()));
      close("declined");
    });
    d.body.appendChild(panel);
    accept.focus({ preventScroll: true });
  }

  function prompt(options) {
    const s = settings(options);
    if (!supported() || !s.siteKey) return Promise.resolve("unsupported");
    if (Notification.permission === "denied") return Promise.resolve("denied");
    if (Notification.permission === "granted") return register(s).catch(function () { return "error"; });
    const declined = Number(stored(DECLINED) || 0);
    if (declined && Date.now() - declined < s.askAgainDays * DAY) return Promise.resolve("declined");
    return new Promise(function (resolve) {
      if (d.body) box(s, resolve);
      else d.addEventListener("DOMContentLoaded", function () { box(s, resolve); });
    });
  }

  // A visitor who allowed notifications before: re-send the subscription if it changed (new endpoint after a
  // pushsubscriptionchange, or the tracker now knows a different visitor id). Never asks anything.
  function sync(options) {
    const s = settings(options);
    if (!supported() || !s.siteKey || Notification.permission !== "granted") return Promise.resolve("unsupported");
    return register(s).catch(function () { return "error"; });
  }

  w.KervanPush = { loaded: true, prompt: prompt, subscribe: subscribe, unsubscribe: unsubscribe, sync: sync };
  if (data("prompt") === "auto") prompt();
  else if (script && supported() && Notification.permission === "granted") sync();
})(window, document);
