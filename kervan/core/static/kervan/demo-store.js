// The demo store page (events/demo_store.html): what a shop's own page would do with the tracker. A static file,
// not an inline script, because the page is served under Kervan's Content Security Policy.
(function () {
  "use strict";
  var product = { product_id: "demo-caydanlik", name: "Kırmızı Çaydanlık", price: 349.90, currency: "TRY" };
  function log(text) { document.getElementById("log").textContent = text; }
  kervan.viewedProduct(product);
  document.getElementById("add-to-cart").addEventListener("click", function () {
    kervan.addedToCart(Object.assign({ quantity: 1 }, product)); log("Added to Cart");
  });
  document.getElementById("checkout").addEventListener("click", function () {
    kervan.startedCheckout({ value: 349.90, currency: "TRY", items: [product] }); log("Started Checkout");
  });
  document.getElementById("identify-form").addEventListener("submit", function (e) {
    e.preventDefault();
    kervan.identify({ email: document.getElementById("email").value,
                      first_name: document.getElementById("first-name").value });
    log("Identified");
  });
})();
