// The hosted cashier: choose a method, show its QR code or go to the channel's page, and
// poll the order until it is paid or can no longer be paid. No external script.
(function () {
  "use strict";
  var root = document.getElementById("cashier");
  var order = root.dataset.order;
  var token = encodeURIComponent(root.dataset.token);
  var message = document.getElementById("message");
  var methods = document.getElementById("methods");
  var scan = document.getElementById("scan");
  var DONE = { succeeded: "Payment received. Thank you!",
               partially_refunded: "This order was paid.",
               refunded: "This order was paid and refunded.",
               expired: "This order has expired and can no longer be paid." };

  function say(text, kind) {
    message.textContent = text;
    message.className = kind || "";
  }

  function finish(status) {
    methods.hidden = true;
    scan.hidden = true;
    root.dataset.status = status;
    say(DONE[status] || ("Order " + status + "."), status === "expired" ? "error" : "success");
  }

  function postForm(url, fields) {
    var form = document.createElement("form");
    form.method = "POST";
    form.action = url;
    Object.keys(fields).forEach(function (name) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = fields[name];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
  }

  function act(answer) {
    var action = answer.action || {};
    if (action.kind === "qr_code" && action.qr_svg) {
      document.getElementById("qr").innerHTML = action.qr_svg;  // made by Paydesk, not input
      document.getElementById("qr-link").href = action.qr_code;
      methods.hidden = true;
      scan.hidden = false;
      say("Waiting for your payment…");
    } else if (action.kind === "redirect" && action.redirect_url) {
      window.location.assign(action.redirect_url);
    } else if (action.kind === "form_post" && action.redirect_url) {
      postForm(action.redirect_url, action.form_fields || {});
    } else if (answer.status === "unknown") {
      say("The payment channel is slow to answer; this page will update by itself.");
    } else {
      say("This method cannot be used here.", "error");
    }
  }

  function choose(button) {
    var buttons = methods.querySelectorAll("button.method");
    buttons.forEach(function (b) { b.disabled = true; });
    say("Contacting the payment channel…");
    fetch("/cashier/" + order + "/pay?t=" + token, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ method: button.dataset.method })
    }).then(function (response) {
      return response.json().then(function (body) { return [response.ok, body]; });
    }).then(function (result) {
      buttons.forEach(function (b) { b.disabled = false; });
      var ok = result[0], body = result[1];
      if (!ok || body.error) {
        var problem = body.error && body.error.message ? body.error.message : body.error;
        say(problem || "The payment could not be started; try another method.", "error");
        return;
      }
      act(body);
    }).catch(function () {
      buttons.forEach(function (b) { b.disabled = false; });
      say("No connection; try again.", "error");
    });
  }

  function poll() {
    if (DONE[root.dataset.status]) { return; }
    fetch("/cashier/" + order + "/status?t=" + token, { cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && DONE[body.status]) { finish(body.status); return; }
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }

  methods.querySelectorAll("button.method").forEach(function (button) {
    button.addEventListener("click", function () { choose(button); });
  });
  document.getElementById("back").addEventListener("click", function () {
    scan.hidden = true;
    methods.hidden = false;
    say("");
  });
  if (DONE[root.dataset.status]) { finish(root.dataset.status); } else { poll(); }
})();
