// The template editor: the block editor (blocks kept as JSON in a hidden field, made into HTML on the server by
// kervan/messaging/blocks.py), which parts show for the channel and mode, and the SMS length counter.
(function () {
  "use strict";
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { node.append(c); });
    return node;
  }
  function init(form) {
    var spec = JSON.parse(document.getElementById("block-editor").textContent);
    var hidden = form.querySelector("[data-blocks-json]");
    var state = {};
    try { state = JSON.parse(hidden.value || "{}") || {}; } catch (e) { state = {}; }
    var kinds = {};
    spec.kinds.forEach(function (k) { kinds[k.kind] = k; });
    function save() { hidden.value = JSON.stringify(state); }
    function draw(code, box) {
      var blocks = state[code] = state[code] || [];
      box.replaceChildren();
      blocks.forEach(function (block, i) {
        var kind = kinds[block.type] || spec.kinds[1];
        var fields = kind.fields.map(function (f) {
          var input = f.name === "text" ? el("textarea", {rows: "3"}) : el("input", {type: "text"});
          input.value = block[f.name] || "";
          input.addEventListener("input", function () { block[f.name] = input.value; save(); });
          return el("label", {}, [f.label + " ", input]);
        });
        function move(step) {
          return function () {
            var j = i + step;
            if (j < 0 || j >= blocks.length) return;
            blocks.splice(j, 0, blocks.splice(i, 1)[0]); save(); draw(code, box);
          };
        }
        var up = el("button", {type: "button"}, ["↑"]); up.title = spec.up; up.addEventListener("click", move(-1));
        var down = el("button", {type: "button"}, ["↓"]); down.title = spec.down; down.addEventListener("click", move(1));
        var remove = el("button", {type: "button"}, ["✕"]); remove.title = spec.remove;
        remove.addEventListener("click", function () { blocks.splice(i, 1); save(); draw(code, box); });
        box.append(el("fieldset", {"class": "block", "data-block": block.type},
          [el("legend", {}, [kind.label + " "]), up, down, remove].concat(fields)));
      });
      var choose = el("select", {"aria-label": spec.add});
      spec.kinds.forEach(function (k) { choose.append(el("option", {value: k.kind}, [k.label])); });
      var add = el("button", {type: "button", "data-add-block": code}, ["+ " + spec.add]);
      add.addEventListener("click", function () { blocks.push({type: choose.value}); save(); draw(code, box); });
      box.append(el("p", {}, [choose, " ", add]));
    }
    form.querySelectorAll("[data-blocks-for]").forEach(function (box) { draw(box.dataset.blocksFor, box); });
    var channel = form.querySelector("[data-channel]");
    var mode = form.querySelector("[data-editor-mode]");
    function parts() {
      var c = channel.value, m = mode.value;
      var show = {
        subject: c !== "sms",
        blocks: c === "email" && m === "blocks",
        html: c === "email" && m === "html",
        text: c !== "email" || m !== "blocks"
      };
      form.querySelectorAll("[data-part]").forEach(function (p) { p.style.display = show[p.dataset.part] ? "" : "none"; });
      form.querySelectorAll("[data-sms-counter]").forEach(function (p) { p.style.display = c === "sms" ? "" : "none"; });
    }
    channel.addEventListener("change", parts);
    mode.addEventListener("change", parts);
    parts();
    form.querySelectorAll("[data-sms-count]").forEach(function (area) {
      var out = area.closest("fieldset").querySelector("[data-sms-counter]");
      function count() {
        if (!window.KervanSms) return;
        var n = window.KervanSms.smsParts(area.value);
        out.textContent = n.characters + " · " + n.encoding + " · " + n.parts + " SMS";
      }
      area.addEventListener("input", count);
      count();
    });
    save();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-template-editor]").forEach(init);
  });
})();
