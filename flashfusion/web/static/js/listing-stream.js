// Streams one listing as the AI provider writes it (server-sent events over a POST, so the
// CSRF token goes with it), then reloads the product's listing table.
(function () {
  "use strict";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  }

  function parseEvents(buffer, onEvent) {
    var blocks = buffer.split("\n\n");
    var rest = blocks.pop();
    blocks.forEach(function (block) {
      var name = "message";
      var data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event: ") === 0) name = line.slice(7);
        else if (line.indexOf("data: ") === 0) data += line.slice(6);
      });
      onEvent(name, data ? JSON.parse(data) : "");
    });
    return rest;
  }

  async function stream(button) {
    var form = button.closest("form");
    var out = document.getElementById("listing-stream");
    var platform = form.querySelector("input[name=platforms]:checked");
    var language = form.querySelector("select[name=languages]").value || "en";
    var body = new FormData();
    body.append("platform", platform ? platform.value : "etsy");
    body.append("language", language);
    body.append("csrf_token", csrfToken());
    out.hidden = false;
    out.textContent = "";
    button.disabled = true;
    try {
      var response = await fetch(button.dataset.streamListing, {
        method: "POST",
        body: body,
        headers: { "X-CSRF-Token": csrfToken(), Accept: "text/event-stream" },
        credentials: "same-origin",
      });
      if (!response.ok) {
        out.textContent = (await response.text()) || "Could not start: HTTP " + response.status;
        return;
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      var finished = false;
      while (!finished) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }), function (name, data) {
          if (name === "delta") out.textContent += data;
          else if (name === "error") { out.textContent += "\n\n" + data; finished = true; }
          else if (name === "done") {
            finished = true;
            out.hidden = true;
            window.htmx.ajax("GET", button.dataset.refresh, { target: "#listings", swap: "outerHTML" });
          }
        });
      }
    } catch (e) {
      out.textContent += "\n\nThe connection dropped; reload the page to see what was saved.";
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-stream-listing]");
    if (button) {
      event.preventDefault();
      stream(button);
    }
  });
})();
