// The SMS editor's live count: the twin of kervan/messaging/channels/sms/length.py (read its docstring for the
// rules). Keep GSM7_BASIC, GSM7_EXTENDED and the limits identical in both files; nothing tests that they agree
// (the test suite has no JavaScript runtime). smsParts(text) → {encoding, characters, parts, perPart}; loaded as a
// plain script it sets window.KervanSms.smsParts, under CommonJS it is module.exports.smsParts.
(function (root) {
  "use strict";

  // GSM 03.38 default alphabet in table order, without 0x1B (the escape to the extension table).
  var GSM7_BASIC = new Set(Array.from(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
  ));
  // The extension table: two septets each (escape + character).
  var GSM7_EXTENDED = new Set(Array.from("\f^{}\\[~]|€"));

  var GSM7_SINGLE = 160, GSM7_MULTI = 153;
  var UCS2_SINGLE = 70, UCS2_MULTI = 67;

  // Parts needed when no character (an escape pair, a surrogate pair) may straddle two parts.
  function pack(costs, capacity) {
    var parts = 1, used = 0;
    costs.forEach(function (cost) {
      if (used + cost > capacity) { parts += 1; used = 0; }
      used += cost;
    });
    return parts;
  }

  function smsParts(text) {
    var chars = Array.from(text || ""); // by code point, as Python iterates a str
    var gsm7 = chars.every(function (c) { return GSM7_BASIC.has(c) || GSM7_EXTENDED.has(c); });
    var costs, single, multi, encoding;
    if (gsm7) {
      costs = chars.map(function (c) { return GSM7_EXTENDED.has(c) ? 2 : 1; });
      single = GSM7_SINGLE; multi = GSM7_MULTI; encoding = "GSM-7";
    } else {
      costs = chars.map(function (c) { return c.codePointAt(0) > 0xFFFF ? 2 : 1; });
      single = UCS2_SINGLE; multi = UCS2_MULTI; encoding = "UCS-2";
    }
    var characters = costs.reduce(function (a, b) { return a + b; }, 0);
    if (characters === 0) return { encoding: encoding, characters: 0, parts: 0, perPart: single };
    if (characters <= single) return { encoding: encoding, characters: characters, parts: 1, perPart: single };
    return { encoding: encoding, characters: characters, parts: pack(costs, multi), perPart: multi };
  }

  if (typeof module !== "undefined" && module.exports) module.exports = { smsParts: smsParts };
  else root.KervanSms = { smsParts: smsParts };
})(typeof window !== "undefined" ? window : this);
