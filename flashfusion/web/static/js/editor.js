// The Merch Studio editor: edits the design document in the page, asks the server (HTMX) to
// re-render the preview, drags layers on the preview, and keeps an undo history. No inline
// scripts (CSP): the document arrives in a JSON data block and everything is wired up here.
(function () {
  "use strict";

  var dataBlock = document.getElementById("editor-data");
  if (!dataBlock) return;
  var initial = JSON.parse(dataBlock.textContent);
  var doc = initial.document;
  var fonts = initial.fonts || [];
  var editable = !!initial.editable;
  var selectedId = doc.layers.length ? doc.layers[doc.layers.length - 1].id : null;
  var undoStack = [];
  var redoStack = [];
  var boxes = [];
  var previewTimer = null;

  var layerList = document.getElementById("layer-list");
  var props = document.getElementById("layer-props");
  var stage = document.getElementById("stage");
  var selection = document.getElementById("selection-box");
  var previewForm = document.getElementById("preview-form");
  var previewInput = document.getElementById("preview-document");

  function snapshot() { return JSON.stringify(doc); }
  function findLayer(id) {
    for (var i = 0; i < doc.layers.length; i++) if (doc.layers[i].id === id) return doc.layers[i];
    return null;
  }
  function selected() { return selectedId ? findLayer(selectedId) : null; }
  function newId(prefix) { return prefix + "-" + Math.random().toString(36).slice(2, 8); }

  function remember() {
    undoStack.push(snapshot());
    if (undoStack.length > 100) undoStack.shift();
    redoStack = [];
    syncUndoButtons();
  }

  function syncUndoButtons() {
    var undo = document.getElementById("undo");
    var redo = document.getElementById("redo");
    if (undo) undo.disabled = undoStack.length === 0;
    if (redo) redo.disabled = redoStack.length === 0;
  }

  function commit(mutate) {
    remember();
    mutate();
    refresh();
  }

  function restore(state) {
    doc = JSON.parse(state);
    if (!findLayer(selectedId)) selectedId = doc.layers.length ? doc.layers[doc.layers.length - 1].id : null;
    refresh();
  }

  function refresh() {
    renderLayerList();
    renderProps();
    schedulePreview();
    syncUndoButtons();
  }

  function schedulePreview(delay) {
    if (previewTimer) clearTimeout(previewTimer);
    previewTimer = setTimeout(function () {
      previewTimer = null;
      previewInput.value = snapshot();
      if (window.htmx) window.htmx.trigger(previewForm, "preview-needed");
    }, delay === undefined ? 180 : delay);
  }

  // --- layer list ------------------------------------------------------------------------

  function layerLabel(layer) {
    if (layer.name) return layer.name;
    if (layer.type === "text") return "“" + layer.text.split("\n")[0].slice(0, 24) + "”";
    if (layer.type === "shape") return layer.shape;
    return "image";
  }

  function renderLayerList() {
    layerList.textContent = "";
    for (var i = doc.layers.length - 1; i >= 0; i--) {
      var layer = doc.layers[i];
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "layer-item" + (layer.id === selectedId ? " selected" : "");
      button.dataset.layer = layer.id;
      button.textContent = layer.type + ": " + layerLabel(layer);
      if (layer.visible === false) button.textContent += " (hidden)";
      item.appendChild(button);
      layerList.appendChild(item);
    }
  }

  layerList.addEventListener("click", function (event) {
    var button = event.target.closest("[data-layer]");
    if (!button) return;
    selectedId = button.dataset.layer;
    renderLayerList();
    renderProps();
    drawSelection();
  });

  // --- properties ------------------------------------------------------------------------

  function getPath(obj, path) {
    var parts = path.split(".");
    for (var i = 0; i < parts.length; i++) {
      if (obj === null || obj === undefined) return undefined;
      obj = obj[parts[i]];
    }
    return obj;
  }

  function setPath(obj, path, value) {
    var parts = path.split(".");
    for (var i = 0; i < parts.length - 1; i++) {
      if (obj[parts[i]] === null || obj[parts[i]] === undefined) obj[parts[i]] = {};
      obj = obj[parts[i]];
    }
    obj[parts[parts.length - 1]] = value;
  }

  function field(label, path, kind, options) {
    var layer = selected();
    var wrap = document.createElement("label");
    wrap.textContent = label + " ";
    var input;
    var value = getPath(layer, path);
    if (kind === "textarea") {
      input = document.createElement("textarea");
      input.rows = 2;
      input.value = value || "";
    } else if (kind === "select") {
      input = document.createElement("select");
      options.forEach(function (option) {
        var el = document.createElement("option");
        el.value = option[0];
        el.textContent = option[1];
        if (String(value) === String(option[0])) el.selected = true;
        input.appendChild(el);
      });
    } else if (kind === "checkbox") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = !!value;
    } else {
      input = document.createElement("input");
      input.type = kind;
      if (kind === "number") input.step = "any";
      input.value = value === undefined || value === null ? "" : value;
    }
    input.dataset.path = path;
    input.dataset.kind = kind;
    input.disabled = !editable;
    wrap.appendChild(input);
    return wrap;
  }

  function toggle(label, path, defaults) {
    var layer = selected();
    var wrap = document.createElement("label");
    var input = document.createElement("input");
    input.type = "checkbox";
    input.checked = !!getPath(layer, path);
    input.dataset.toggle = path;
    input.dataset.defaults = JSON.stringify(defaults);
    input.disabled = !editable;
    wrap.appendChild(input);
    wrap.appendChild(document.createTextNode(" " + label));
    return wrap;
  }

  function group(title, children) {
    var fieldset = document.createElement("fieldset");
    var legend = document.createElement("legend");
    legend.textContent = title;
    fieldset.appendChild(legend);
    children.forEach(function (child) { if (child) fieldset.appendChild(child); });
    return fieldset;
  }

  function renderProps() {
    props.textContent = "";
    var layer = selected();
    if (!layer) {
      var empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = "Select a layer.";
      props.appendChild(empty);
      return;
    }
    var parts = [field("Name", "name", "text")];
    if (layer.type === "text") {
      parts.push(field("Text", "text", "textarea"));
      parts.push(field("Font", "font", "select", fonts.map(function (f) { return [f.key, f.name]; })));
      parts.push(field("Size (px)", "size", "number"));
      parts.push(field("Colour", "fill.colours.0", "color"));
      parts.push(field("Gradient to", "fill.colours.1", "color"));
      parts.push(field("Fill", "fill.kind", "select", [["solid", "Solid"], ["linear", "Linear gradient"], ["radial", "Radial gradient"]]));
      parts.push(field("Letter spacing (em)", "letter_spacing", "number"));
      parts.push(field("Line height (em)", "line_height", "number"));
      parts.push(field("Align", "align", "select", [["left", "Left"], ["center", "Centre"], ["right", "Right"]]));
      parts.push(field("Arc (degrees)", "arc", "number"));
      parts.push(field("Uppercase", "uppercase", "checkbox"));
      parts.push(group("Outline", [toggle("Outline", "outline", { width: 12, colour: "#000000" }),
        layer.outline ? field("Width", "outline.width", "number") : null,
        layer.outline ? field("Colour", "outline.colour", "color") : null]));
      parts.push(group("Shadow", [toggle("Shadow", "shadow", { dx: 20, dy: 20, blur: 10, colour: "#00000080" }),
        layer.shadow ? field("Offset x", "shadow.dx", "number") : null,
        layer.shadow ? field("Offset y", "shadow.dy", "number") : null,
        layer.shadow ? field("Blur", "shadow.blur", "number") : null]));
      parts.push(group("Glow", [toggle("Glow", "glow", { radius: 40, colour: "#ff00ff", strength: 1 }),
        layer.glow ? field("Radius", "glow.radius", "number") : null,
        layer.glow ? field("Colour", "glow.colour", "color") : null]));
    } else if (layer.type === "shape") {
      parts.push(field("Shape", "shape", "select", ["rectangle", "ellipse", "triangle", "star", "line", "sunburst", "stripes"].map(function (s) { return [s, s]; })));
      parts.push(field("Width", "width", "number"));
      parts.push(field("Height", "height", "number"));
      parts.push(field("Colour", "fill.colours.0", "color"));
    } else {
      parts.push(field("Width", "width", "number"));
      parts.push(field("Height", "height", "number"));
    }
    parts.push(field("Centre x", "x", "number"));
    parts.push(field("Centre y", "y", "number"));
    parts.push(field("Rotation (°)", "rotation", "number"));
    parts.push(field("Opacity (0–1)", "opacity", "number"));
    parts.push(field("Visible", "visible", "checkbox"));
    parts.forEach(function (part) { if (part) props.appendChild(part); });
  }

  function readInput(input) {
    var kind = input.dataset.kind;
    if (kind === "checkbox") return input.checked;
    if (kind === "number") {
      var number = parseFloat(input.value);
      return isNaN(number) ? null : number;
    }
    return input.value;
  }

  props.addEventListener("change", function (event) {
    var input = event.target;
    var layer = selected();
    if (!layer || !editable) return;
    if (input.dataset.toggle) {
      commit(function () {
        layer[input.dataset.toggle] = input.checked ? JSON.parse(input.dataset.defaults) : null;
      });
      return;
    }
    if (!input.dataset.path) return;
    var value = readInput(input);
    if (value === null) return;
    commit(function () {
      if (input.dataset.path === "fill.colours.1") {
        var colours = layer.fill.colours;
        colours[1] = value;
        if (layer.fill.kind === "solid") layer.fill.kind = "linear";
        return;
      }
      if (input.dataset.path === "fill.kind" && value !== "solid" && layer.fill.colours.length < 2) {
        layer.fill.colours.push("#ffffff");
      }
      if (input.dataset.path === "fill.kind" && value === "solid") layer.fill.colours = layer.fill.colours.slice(0, 1);
      setPath(layer, input.dataset.path, value);
    });
  });

  // Text typed into the text box previews as you type, without a history entry per key.
  props.addEventListener("input", function (event) {
    var input = event.target;
    var layer = selected();
    if (!layer || !editable || input.dataset.path !== "text") return;
    if (!input.dataset.remembered) { remember(); input.dataset.remembered = "1"; }
    layer.text = input.value;
    renderLayerList();
    schedulePreview(250);
  });

  // --- tools -----------------------------------------------------------------------------

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button || !editable) return;
    var action = button.dataset.action;
    var layer = selected();
    var canvas = doc.canvas;
    if (action === "add-text") {
      commit(function () {
        var id = newId("text");
        doc.layers.push({ id: id, type: "text", text: "Your text", font: fonts.length ? fonts[0].key : "bebas-neue",
          size: Math.round(canvas.height * 0.08), fill: { kind: "solid", colours: ["#222222"] },
          x: canvas.width / 2, y: canvas.height / 2 });
        selectedId = id;
      });
    } else if (action === "add-shape") {
      commit(function () {
        var id = newId("shape");
        var side = Math.round(Math.min(canvas.width, canvas.height) * 0.3);
        doc.layers.unshift({ id: id, type: "shape", shape: "star", width: side, height: side,
          fill: { kind: "solid", colours: ["#f59e0b"] }, x: canvas.width / 2, y: canvas.height / 2 });
        selectedId = id;
      });
    } else if (action === "delete-layer" && layer) {
      commit(function () {
        doc.layers = doc.layers.filter(function (l) { return l.id !== layer.id; });
        selectedId = doc.layers.length ? doc.layers[doc.layers.length - 1].id : null;
      });
    } else if ((action === "layer-up" || action === "layer-down") && layer) {
      var index = doc.layers.indexOf(layer);
      var target = action === "layer-up" ? index + 1 : index - 1;
      if (target < 0 || target >= doc.layers.length) return;
      commit(function () {
        doc.layers.splice(index, 1);
        doc.layers.splice(target, 0, layer);
      });
    } else if (action === "undo" && undoStack.length) {
      redoStack.push(snapshot());
      restore(undoStack.pop());
    } else if (action === "redo" && redoStack.length) {
      undoStack.push(snapshot());
      restore(redoStack.pop());
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!(event.ctrlKey || event.metaKey) || event.key.toLowerCase() !== "z") return;
    if (event.target.closest && event.target.closest("input, textarea, select")) return;
    event.preventDefault();
    var id = event.shiftKey ? "redo" : "undo";
    var button = document.getElementById(id);
    if (button && !button.disabled) button.click();
  });

  ["save-form", "upload-form"].forEach(function (formId) {
    var form = document.getElementById(formId);
    if (!form) return;
    form.addEventListener("submit", function () {
      form.querySelector("input[name=document]").value = snapshot();
    });
  });

  // --- preview: boxes, selection, drag ----------------------------------------------------

  function previewImage() { return document.getElementById("preview-image"); }

  function readBoxes() {
    var img = previewImage();
    boxes = img && img.dataset.boxes ? JSON.parse(img.dataset.boxes) : [];
    // A freshly swapped data: image may not be laid out yet; draw once it is.
    if (img && !img.complete) img.addEventListener("load", drawSelection, { once: true });
    drawSelection();
  }

  function scaleOf(img) { return img.clientWidth / doc.canvas.width; }

  function drawSelection() {
    var img = previewImage();
    var box = null;
    for (var i = 0; i < boxes.length; i++) if (boxes[i].id === selectedId) box = boxes[i];
    if (!img || !box || !box.bbox) { selection.hidden = true; return; }
    var s = scaleOf(img);
    selection.hidden = false;
    selection.style.left = (img.offsetLeft + box.bbox[0] * s) + "px";
    selection.style.top = (img.offsetTop + box.bbox[1] * s) + "px";
    selection.style.width = Math.max(4, (box.bbox[2] - box.bbox[0]) * s) + "px";
    selection.style.height = Math.max(4, (box.bbox[3] - box.bbox[1]) * s) + "px";
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "preview-frame") readBoxes();
  });

  var drag = null;

  function canvasPoint(event) {
    var img = previewImage();
    var rect = img.getBoundingClientRect();
    var s = rect.width / doc.canvas.width;
    return { x: (event.clientX - rect.left) / s, y: (event.clientY - rect.top) / s };
  }

  stage.addEventListener("pointerdown", function (event) {
    var img = previewImage();
    if (!img || !editable) return;
    var point = canvasPoint(event);
    for (var i = boxes.length - 1; i >= 0; i--) {
      var b = boxes[i].bbox;
      if (b && point.x >= b[0] && point.x <= b[2] && point.y >= b[1] && point.y <= b[3]) {
        selectedId = boxes[i].id;
        break;
      }
    }
    var layer = selected();
    if (!layer) return;
    renderLayerList();
    renderProps();
    drawSelection();
    remember();
    drag = { start: point, x: layer.x, y: layer.y, left: selection.offsetLeft, top: selection.offsetTop };
    stage.setPointerCapture(event.pointerId);
    event.preventDefault();
  });

  stage.addEventListener("pointermove", function (event) {
    if (!drag) return;
    var layer = selected();
    var point = canvasPoint(event);
    var dx = point.x - drag.start.x;
    var dy = point.y - drag.start.y;
    layer.x = Math.round(drag.x + dx);
    layer.y = Math.round(drag.y + dy);
    var s = scaleOf(previewImage());
    selection.style.left = (drag.left + dx * s) + "px";
    selection.style.top = (drag.top + dy * s) + "px";
    schedulePreview(120);
  });

  function endDrag() {
    if (!drag) return;
    var layer = selected();
    if (layer && layer.x === drag.x && layer.y === drag.y) undoStack.pop();  // a click, not a move
    drag = null;
    renderProps();
    schedulePreview(0);
    syncUndoButtons();
  }
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);
  window.addEventListener("resize", drawSelection);

  renderLayerList();
  renderProps();
  readBoxes();
})();
