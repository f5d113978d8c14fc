"""Web push: the transport (pywebpush, VAPID-signed and encrypted per browser), the install's VAPID key pair, and
the public endpoints the storefront's subscribe prompt (static/messaging/push.js) calls with the tracker site's
publishable key. The service worker the storefront serves is static/messaging/kervan-push-sw.js."""
