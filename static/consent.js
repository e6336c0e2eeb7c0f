/* consent-gateway banner client. Plain ES2017, no dependencies, CSP-safe (no inline styles,
 * no innerHTML, no eval). Texts come from configuration and are only ever set as textContent. */
(function () {
  "use strict";

  if (window.consentGateway) return; // loaded twice (injected and snippet): keep the first

  var DEFAULT_PREFIX = "/_consent";
  var ACTIONS = ["accept_all", "reject_all", "settings", "custom", "withdraw"];
  var TEXT_KEYS = { custom: "save" };

  var tag = document.getElementById("consent-gateway") || document.currentScript;
  var nonce = (tag && (tag.nonce || tag.getAttribute("nonce"))) || "";
  var state = null;
  var prefix = DEFAULT_PREFIX;
  var ui = null;
  var busy = false;
  var pendingOpen = false;
  var loadedFrames = new WeakSet();

  /* ---------- helpers ---------- */

  function el(name, attrs, text) {
    var node = document.createElement(name);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    if (text != null) node.textContent = String(text);
    return node;
  }

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  function whenBodyReady(fn) {
    if (document.body) fn();
    else document.addEventListener("DOMContentLoaded", fn, { once: true });
  }

  function safeUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      var protocol = new URL(value, location.href).protocol;
      return protocol === "https:" || protocol === "http:" ? value : null;
    } catch (err) {
      return null;
    }
  }

  function categories() {
    return state && state.consent ? Object.assign({}, state.consent.categories || {}) : null;
  }

  function granted(id) {
    return !!(state && state.consent && (state.consent.categories || {})[id] === true);
  }

  /* ---------- state ---------- */

  function guessPrefix() {
    var fromAttr = tag && tag.getAttribute("data-prefix");
    if (fromAttr) return fromAttr.replace(/\/+$/, "");
    var match = /^(.*)\/consent\.js(?:[?#]|$)/.exec((tag && tag.getAttribute("src")) || "");
    return match ? match[1] : DEFAULT_PREFIX;
  }

  async function loadState() {
    var raw = tag && tag.getAttribute("data-state");
    if (raw) {
      try {
        return JSON.parse(raw);
      } catch (err) {
        console.warn("consent-gateway: unreadable data-state, fetching it", err);
      }
    }
    var response = await fetch(guessPrefix() + "/state", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error("state: HTTP " + response.status);
    return response.json();
  }

  /* ---------- building the banner ---------- */

  function buildCategory(cat, texts, inputs) {
    var inputId = "cg-cat-" + cat.id;
    var row = el("div", { class: "cg-cat" });
    var head = el("div", { class: "cg-cat-head" });
    var input = el("input", {
      type: "checkbox",
      class: "cg-switch",
      name: cat.id,
      id: inputId,
      "aria-describedby": inputId + "-desc",
    });
    head.append(input, el("label", { class: "cg-cat-title", for: inputId }, cat.title));
    if (cat.locked) head.append(el("span", { class: "cg-always-on" }, texts.always_on));
    row.append(head, el("p", { class: "cg-cat-desc", id: inputId + "-desc" }, cat.description));
    inputs[cat.id] = input;
    return row;
  }

  function buildUi() {
    var texts = state.texts || {};
    var root = el("div", {
      class: "cg-banner",
      role: "dialog",
      "aria-modal": "false",
      "aria-labelledby": "cg-title",
      "aria-describedby": "cg-body",
    });
    if (state.language) root.lang = state.language;
    root.hidden = true;

    var body = el("p", { id: "cg-body", class: "cg-body" }, texts.body);
    var href = safeUrl(state.privacy_statement_url);
    if (href && texts.privacy_link) {
      body.append(" ", el("a", { class: "cg-link", href: href }, texts.privacy_link));
    }

    var inputs = {};
    var settings = el("div", { class: "cg-settings", id: "cg-settings" });
    settings.hidden = true;
    (state.categories || []).forEach(function (cat) {
      settings.append(buildCategory(cat, texts, inputs));
    });

    var buttons = {};
    var actions = el("div", { class: "cg-actions" });
    ACTIONS.forEach(function (action) {
      var button = el(
        "button",
        { type: "button", class: "cg-btn", "data-cg-action": action },
        texts[TEXT_KEYS[action] || action]
      );
      buttons[action] = button;
      actions.append(button);
    });

    root.append(el("h2", { id: "cg-title", class: "cg-title" }, texts.title), body, settings, actions);
    root.addEventListener("click", onBannerClick);

    var reopen = el("button", { class: "cg-reopen", type: "button" }, texts.reopen);
    reopen.hidden = true;
    reopen.addEventListener("click", function () {
      showBanner(true);
    });

    document.body.append(root, reopen);
    return { root: root, settings: settings, inputs: inputs, buttons: buttons, reopen: reopen };
  }

  /* ---------- showing and hiding ---------- */

  function syncSwitches() {
    (state.categories || []).forEach(function (cat) {
      var input = ui.inputs[cat.id];
      input.checked = cat.locked ? true : granted(cat.id);
      input.disabled = !!cat.locked;
    });
  }

  function isSettingsOpen() {
    return !!ui && !ui.root.hidden && !ui.settings.hidden;
  }

  function showBanner(settingsLayer) {
    if (!ui) {
      pendingOpen = pendingOpen || settingsLayer;
      return;
    }
    syncSwitches();
    ui.settings.hidden = !settingsLayer;
    ui.buttons.settings.hidden = settingsLayer;
    ui.buttons.custom.hidden = !settingsLayer;
    ui.buttons.withdraw.hidden = !(settingsLayer && state.consent);
    ui.root.classList.toggle("cg-expanded", settingsLayer);
    ui.root.hidden = false;
    ui.reopen.hidden = true;
    if (settingsLayer) {
      var first = ui.settings.querySelector("input:not([disabled])") || ui.buttons.custom;
      first.focus();
    }
  }

  function hideBanner() {
    var hadFocus = ui.root.contains(document.activeElement);
    ui.root.hidden = true;
    ui.reopen.hidden = false;
    if (hadFocus) ui.reopen.focus();
  }

  function closeSettings() {
    if (state.consent) {
      hideBanner();
    } else {
      showBanner(false);
      ui.buttons.settings.focus();
    }
  }

  /* ---------- decisions ---------- */

  function chosen(action) {
    var out = {};
    (state.categories || []).forEach(function (cat) {
      if (cat.locked) return;
      if (action === "accept_all") out[cat.id] = true;
      else if (action === "reject_all") out[cat.id] = false;
      else out[cat.id] = !!ui.inputs[cat.id].checked;
    });
    return out;
  }

  async function post(path, body) {
    var response = await fetch(prefix + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(path + ": HTTP " + response.status);
    var data = await response.json();
    if (!data || typeof data.categories !== "object" || data.categories === null) {
      throw new Error(path + ": unexpected response");
    }
    return data;
  }

  async function decide(action) {
    if (busy) return;
    busy = true;
    ui.root.setAttribute("aria-busy", "true");
    var common = { page: location.pathname, language: state.language, source: "banner" };
    try {
      var data =
        action === "withdraw"
          ? await post("/withdraw", common)
          : await post(
              "/consent",
              Object.assign({ action: action, categories: chosen(action) }, common)
            );
      applyDecision(data);
    } catch (err) {
      console.warn("consent-gateway: decision not recorded", err);
    } finally {
      busy = false;
      ui.root.removeAttribute("aria-busy");
    }
  }

  function applyDecision(data) {
    state.consent = data;
    hideBanner();
    unblock();
    emit("consent:change", categories());
  }

  function onBannerClick(event) {
    var button = event.target.closest("[data-cg-action]");
    if (!button) return;
    var action = button.getAttribute("data-cg-action");
    if (action === "settings") showBanner(true);
    else decide(action);
  }

  /* ---------- unblocking ---------- */

  function allowed(list) {
    var ids = String(list || "").split(/[\s,]+/).filter(Boolean);
    return ids.length > 0 && ids.every(granted);
  }

  function activateScript(old) {
    var script = document.createElement("script");
    Array.prototype.forEach.call(old.attributes, function (attr) {
      if (attr.name !== "type" && attr.name !== "data-consent-category" && attr.name !== "nonce") {
        script.setAttribute(attr.name, attr.value);
      }
    });
    var scriptNonce = nonce || old.nonce;
    if (scriptNonce) script.nonce = scriptNonce;
    if (old.hasAttribute("src")) {
      if (!old.hasAttribute("async")) script.async = false; // keep document order
    } else {
      script.text = old.text;
    }
    old.parentNode.replaceChild(script, old);
  }

  function unblock() {
    if (!state || !state.consent) return;
    var scripts = document.querySelectorAll('script[type="text/plain"][data-consent-category]');
    Array.prototype.forEach.call(scripts, function (old) {
      if (allowed(old.getAttribute("data-consent-category"))) activateScript(old);
    });
    var frames = document.querySelectorAll("iframe[data-src][data-consent-category]");
    Array.prototype.forEach.call(frames, function (frame) {
      if (loadedFrames.has(frame) || !allowed(frame.getAttribute("data-consent-category"))) return;
      loadedFrames.add(frame);
      frame.setAttribute("src", frame.getAttribute("data-src"));
    });
  }

  /* ---------- global listeners and API ---------- */

  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-consent-open]");
    if (!opener) return;
    event.preventDefault();
    showBanner(true);
  });

  document.addEventListener("keydown", function (event) {
    if ((event.key === "Escape" || event.key === "Esc") && !event.defaultPrevented && isSettingsOpen()) {
      event.preventDefault();
      closeSettings();
    }
  });

  window.consentGateway = {
    get: categories,
    open: function () {
      showBanner(true);
    },
    onChange: function (fn) {
      var handler = function (event) {
        fn(event.detail);
      };
      document.addEventListener("consent:change", handler);
      return function () {
        document.removeEventListener("consent:change", handler);
      };
    },
  };

  /* ---------- start ---------- */

  async function start() {
    try {
      state = await loadState();
    } catch (err) {
      console.warn("consent-gateway: no consent state, banner not shown", err);
      emit("consent:ready", null);
      return;
    }
    prefix = (state.prefix || guessPrefix()).replace(/\/+$/, "");
    whenBodyReady(function () {
      ui = buildUi();
      if (!state.consent) showBanner(false);
      else hideBanner();
      if (pendingOpen) showBanner(true);
      unblock();
      emit("consent:ready", categories());
    });
  }

  start();
})();
