/* Kervan web push service worker: shows the notifications Kervan sends and opens their link when clicked.

   A service worker must come from the storefront's own origin, and its folder bounds the pages it serves, so the
   shop serves it from its site root, in one of two ways:
   - copy this file to https://shop.example.com/kervan-push-sw.js, or
   - if the shop has a service worker already, add to it:
       importScripts("https://crm.example.com/static/messaging/kervan-push-sw.js");
   then give that URL to KervanPush.prompt({serviceWorkerUrl: "/kervan-push-sw.js"}) (push.js).

   Kervan's payload (kervan/messaging/channels/push/transport.py) is JSON {"title", "body", "url", "tag"}; the tag
   makes a message that arrives twice replace itself instead of showing twice. Plain ES2017, no dependencies. */
(function (self) {
  "use strict";

  function read(event) {
    if (!event.data) return {};
    try {
      return event.data.json() || {};
    } catch (e) {
      return { body: event.data.text() }; // not JSON: show it as it is rather than drop it
    }
  }

  self.addEventListener("push", function (event) {
    const message = read(event);
    if (!message.title && !message.body) return;
    const options = {
      body: message.body || "",
      tag: message.tag || undefined,
      data: { url: message.url || "" },
    };
    if (message.icon) options.icon = message.icon;
    // waitUntil keeps the worker alive until the notification is up; browsers penalise a push that shows nothing.
    event.waitUntil(self.registration.showNotification(message.title || "", options));
  });

  self.addEventListener("notificationclick", function (event) {
    event.notification.close();
    const url = event.notification.data && event.notification.data.url;
    if (!url || !/^https?:\/\//i.test(url)) return; // only web links: never javascript: or data: URLs
    event.waitUntil(
      self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
        // A tab already on that page is brought forward rather than opening the same page twice.
        for (const client of windows) {
          if (client.url === url && "focus" in client) return client.focus();
        }
        return self.clients.openWindow ? self.clients.openWindow(url) : undefined;
      })
    );
  });

  // The push service replaced the subscription (keys expired or rotated): subscribe again with the same server
  // key. push.js sends the new one to Kervan on the visitor's next page view (it compares endpoints).
  self.addEventListener("pushsubscriptionchange", function (event) {
    const old = event.oldSubscription;
    const key = old && old.options && old.options.applicationServerKey;
    if (!key) return;
    event.waitUntil(
      self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }).catch(function () {
        /* permission was withdrawn: nothing to do */
      })
    );
  });
})(self);
