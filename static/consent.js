/* consent-gateway banner client: Consent Mode v2, GPC, proxy and snippet mode. ES2017, CSP-safe
 * (no inline styles, innerHTML or eval); texts are only ever set as textContent. */
(() => {
  "use strict";
  const W = window, D = document;
  if (W.consentGateway) return; // loaded twice: keep the first

  const ACTIONS = ["accept_all", "reject_all", "settings", "custom", "withdraw"];
  const SIGNALS = {
    necessary: ["security_storage"],
    preferences: ["functionality_storage", "personalization_storage"],
    analytics: ["analytics_storage"],
    marketing: ["ad_storage", "ad_user_data", "ad_personalization"],
  };
  const tag = D.currentScript || D.getElementById("consent-gateway");
  const attr = (name) => tag && tag.getAttribute(name);
  const nonce = (tag && (tag.nonce || attr("nonce"))) || "";
  const site = attr("data-site");
  const raw = attr("data-state");
  const snippet = !!site && !raw;
  const src = tag && tag.src ? new URL(tag.src, location.href) : null;
  const found = src && /^(.*)\/consent\.js$/.exec(src.pathname);
  let base = (attr("data-prefix") || (found ? found[1] : "/_consent")).replace(/\/+$/, "");
  if (snippet && src) base = new URL(base, src).href.replace(/\/+$/, "");
  const warn = (what, err) => console.warn("consent-gateway: " + what, err);
  let state = null, ui = null, busy = false, pendingOpen = false, opener = null;
  try {
    state = raw && JSON.parse(raw);
  } catch (err) {
    warn("bad data-state", err);
  }

  const el = (name, attrs, text) => {
    const node = D.createElement(name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (text != null) node.textContent = String(text);
    return node;
  };
  const emit = (name, detail) => D.dispatchEvent(new CustomEvent(name, { detail }));
  const consent = () => state && state.consent;
  const categories = () => (consent() ? Object.assign({}, consent().categories) : null);
  const granted = (id) => !!consent() && (consent().categories || {})[id] === true;
  // false for no decision or an automatic one from GPC
  const explicit = () => !!consent() && consent().explicit !== false;
  // no banner needed: decided, or a region without one
  const settled = () => explicit() || state.mode == "none";

  // Google Consent Mode v2. Snippet: the state comes later, so deny now and wait briefly.
  const mode = state ? state.consent_mode : { wait_for_update: 500 };
  function gtag() {
    W.dataLayer.push(arguments);
  }
  const signals = (on) => {
    const out = {};
    for (const cat in SIGNALS) {
      for (const name of SIGNALS[cat]) {
        out[name] = cat === "necessary" || on(cat, name) ? "granted" : "denied";
      }
    }
    return out;
  };
  const defaults = (settings, regionsOnly) => {
    const all = signals(() => false);
    if (settings.wait_for_update != null) all.wait_for_update = settings.wait_for_update;
    if (!regionsOnly) gtag("consent", "default", all);
    for (const entry of settings.regions || []) {
      const region = signals((cat, name) => (entry.granted || []).includes(name));
      region.region = entry.region;
      gtag("consent", "default", region);
    }
  };
  // Microsoft UET and Clarity read their own consent calls: queued for pages that use them.
  const microsoft = () => {
    if (!consent() || ![...D.scripts].some((s) => /bat\.bing\.com|clarity\.ms/.test(s.src + s.text))) return;
    const v = (id) => (granted(id) ? "granted" : "denied");
    (W.uetq = W.uetq || []).push("consent", "update", { ad_storage: v("marketing") });
    const c = (W.clarity = W.clarity || function () { (c.q = c.q || []).push(arguments); });
    c("consentv2", { ad_Storage: v("marketing"), analytics_Storage: v("analytics") });
  };
  const update = () => {
    if (mode && consent()) gtag("consent", "update", signals(granted));
    microsoft();
  };
  D.addEventListener("DOMContentLoaded", microsoft);
  if (mode) {
    W.dataLayer = W.dataLayer || [];
    if (!W.gtag) W.gtag = gtag;
    defaults(mode);
  }

  const token = () => {
    const m = snippet && /(?:^|;\s*)cg_consent=([^;]+)/.exec(D.cookie);
    return m ? decodeURIComponent(m[1]) : "";
  };
  // Snippet mode only. Safari caps script-written cookies at 7 days: that is why proxy mode
  // has the server set an HttpOnly cookie instead.
  const keepToken = (value, expiresAt) => {
    const age = Math.max(0, Math.round((Date.parse(expiresAt) - Date.now()) / 1e3)) || 0;
    D.cookie = `cg_consent=${encodeURIComponent(value)}; Path=/; Max-Age=${age}; SameSite=Lax` +
      (location.protocol === "https:" ? "; Secure" : "");
  };
  const call = async (path, body) => {
    const headers = { Accept: "application/json" };
    const init = { credentials: snippet ? "omit" : "same-origin", headers };
    if (token()) headers["X-Consent-Token"] = token();
    if (body) {
      if (snippet) body.site = site;
      headers["Content-Type"] = "application/json";
      init.method = "POST";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(base + path, init);
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  };

  const buildUi = () => {
    const texts = state.texts || {};
    const root = el("div", {
      class: "cg-banner", role: "dialog", "aria-modal": "false", "data-mode": state.mode,
      "aria-labelledby": "cg-title", "aria-describedby": "cg-body",
    });
    if (state.language) root.lang = state.language;
    root.hidden = true;
    const body = el("p", { id: "cg-body", class: "cg-body" }, texts.body);
    const link = el("a", { class: "cg-link", href: state.privacy_statement_url }, texts.privacy_link);
    if (state.privacy_statement_url && texts.privacy_link && /^https?:$/.test(link.protocol)) {
      body.append(" ", link);
    }
    const inputs = {};
    const settings = el("div", { class: "cg-settings", id: "cg-settings" });
    settings.hidden = true;
    for (const cat of state.categories || []) {
      const id = "cg-cat-" + cat.id;
      const head = el("div", { class: "cg-cat-head" });
      const input = (inputs[cat.id] = el("input", {
        type: "checkbox", class: "cg-switch", name: cat.id, id, "aria-describedby": id + "-desc",
      }));
      head.append(input, el("label", { class: "cg-cat-title", for: id }, cat.title));
      if (cat.locked) head.append(el("span", { class: "cg-always-on" }, texts.always_on));
      const row = el("div", { class: "cg-cat" });
      row.append(head, el("p", { class: "cg-cat-desc", id: id + "-desc" }, cat.description));
      settings.append(row);
    }
    // The visitor's own data (download, erase); behind the proxy our cookie identifies them.
    const mine = el("p", { class: "cg-mine", id: "cg-mine" }, (texts.your_data || "") + ": ");
    mine.append(el("a", { class: "cg-link", href: base + "/me", download: "" }, texts.download_data),
      " · ", el("a", { class: "cg-link", href: base + "/preferences#cg-your-data" }, texts.erase_data));
    settings.append(mine);
    const buttons = {};
    const actions = el("div", { class: "cg-actions" });
    for (const action of ACTIONS) {
      actions.append((buttons[action] = el("button",
        { type: "button", class: "cg-btn", "data-cg-action": action },
        texts[action === "custom" ? "save" : action])));
    }
    root.append(el("h2", { id: "cg-title", class: "cg-title" }, texts.title), body, settings, actions);
    root.addEventListener("click", (event) => {
      const button = event.target.closest("[data-cg-action]");
      const action = button && button.getAttribute("data-cg-action");
      if (action === "settings") show(true);
      else if (action) decide(action);
    });
    D.body.append(root);
    let reopen = null;
    if (state.floating_button !== false) {
      reopen = el("button", { class: "cg-reopen", type: "button" }, texts.reopen);
      reopen.hidden = true;
      reopen.addEventListener("click", () => show(true));
      D.body.append(reopen);
    }
    return { root, settings, inputs, buttons, reopen, mine };
  };

  const sync = () => {
    for (const cat of state.categories || []) {
      const input = ui.inputs[cat.id];
      input.checked = !!cat.locked || granted(cat.id); // GPC grants nothing, notice some
      input.disabled = !!cat.locked;
    }
  };
  const settingsOpen = () => !!ui && !ui.root.hidden && !ui.settings.hidden;

  const show = (full) => {
    if (!ui) return void (pendingOpen = pendingOpen || full);
    const { root, buttons } = ui;
    const opening = full && !settingsOpen();
    if (opening) opener = D.activeElement !== D.body ? D.activeElement : null;
    sync();
    ui.settings.hidden = !full;
    ui.mine.hidden = snippet || !consent();
    buttons.settings.hidden = full;
    buttons.custom.hidden = !full;
    buttons.withdraw.hidden = !(full && explicit() &&
      Object.keys(SIGNALS).some((id) => id !== "necessary" && granted(id)));
    root.classList.toggle("cg-expanded", full);
    root.setAttribute("aria-modal", String(full));
    root.hidden = false;
    if (ui.reopen) ui.reopen.hidden = true;
    if (opening) (ui.settings.querySelector("input:not(:disabled)") || buttons.custom).focus();
  };
  const restoreFocus = () => {
    [opener, ui.reopen, ui.buttons.settings].some((node) => {
      if (node) node.focus();
      return node && D.activeElement === node;
    });
    opener = null;
  };
  const hide = () => {
    const hadFocus = ui.root.contains(D.activeElement);
    ui.root.hidden = true;
    ui.root.setAttribute("aria-modal", "false");
    if (ui.reopen) ui.reopen.hidden = false;
    if (hadFocus) restoreFocus();
  };

  const decide = async (action) => {
    if (busy) return;
    busy = true;
    ui.root.setAttribute("aria-busy", "true");
    const body = { page: location.pathname, language: state.language, source: "banner" };
    if (action !== "withdraw") {
      body.action = action;
      body.categories = {};
      for (const cat of state.categories || []) {
        if (!cat.locked) {
          body.categories[cat.id] =
            action === "custom" ? ui.inputs[cat.id].checked : action === "accept_all";
        }
      }
    }
    try {
      apply(await call(action === "withdraw" ? "/withdraw" : "/consent", body));
    } catch (err) {
      warn("decision not recorded", err);
    } finally {
      busy = false;
      ui.root.removeAttribute("aria-busy");
    }
  };

  const apply = (data) => {
    if (!data || typeof data.categories !== "object" || !data.categories) {
      throw new Error("unexpected response");
    }
    if (data.token) {
      if (snippet) keepToken(data.token, data.expires_at);
      delete data.token;
    }
    state.consent = data;
    update();
    if (ui) {
      if (settled()) hide();
      else sync(); // GPC: the banner still asks
    }
    unblock();
    emit("consent:change", categories());
  };

  const allowed = (list) => {
    const ids = String(list || "").split(/[\s,]+/).filter(Boolean);
    return ids.length > 0 && ids.every(granted);
  };

  const unblock = () => {
    if (!consent()) return;
    for (const old of D.querySelectorAll('script[type="text/plain"][data-consent-category]')) {
      if (!allowed(old.getAttribute("data-consent-category"))) continue;
      const script = D.createElement("script");
      for (const a of old.attributes) {
        // data-consent-type="module" becomes type="module" again
        if (!/^(type|data-consent-category|nonce)$/.test(a.name)) {
          script.setAttribute(a.name == "data-consent-type" ? "type" : a.name, a.value);
        }
      }
      if (nonce || old.nonce) script.nonce = nonce || old.nonce;
      if (!old.hasAttribute("src")) script.text = old.text;
      else if (!old.hasAttribute("async")) script.async = false; // keep document order
      old.replaceWith(script);
    }
    // iframes, images, <picture> sources, <link>s, <object>s and <embed>s
    for (const el of D.querySelectorAll("[data-consent-category]:not(script)")) {
      if (allowed(el.getAttribute("data-consent-category"))) load(el);
    }
  };

  // The server renamed the attributes that fetch to data-*: give them back (srcset first,
  // so an image fetches the candidate it picks, not src as well).
  const load = (el) => {
    for (const name of ["srcset", "src", "href", "data"]) {
      const value = el.getAttribute("data-" + name);
      if (value !== null) el.removeAttribute("data-" + name), el.setAttribute(name, value);
    }
    const holder = el.previousElementSibling; // the server's placeholder, if any
    if (holder && holder.hasAttribute("data-consent-placeholder")) holder.remove();
  };

  D.addEventListener("click", (event) => {
    const at = (selector) => event.target.closest && event.target.closest(selector);
    const once = at("[data-cg-load-once]"), allow = at("[data-cg-allow]");
    if (once) {
      const frame = once.parentElement.nextElementSibling;
      if (frame && frame.matches("iframe[data-consent-category]")) load(frame);
    } else if (allow && ui) {
      sync();
      const input = ui.inputs[allow.getAttribute("data-cg-allow")];
      if (input) (input.checked = true), decide("custom");
    } else if (at("[data-consent-open]")) {
      event.preventDefault();
      show(true);
    }
  });

  D.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || !settingsOpen()) return;
    if (event.key === "Escape" || event.key === "Esc") {
      event.preventDefault();
      if (settled()) return hide();
      show(false);
      restoreFocus();
    } else if (event.key === "Tab") {
      const stops = [...ui.root.querySelectorAll("a[href],button,input")].filter(
        (node) => !node.disabled && node.getClientRects().length > 0);
      const edge = event.shiftKey ? stops[0] : stops[stops.length - 1];
      if (!ui.root.contains(D.activeElement) || D.activeElement === edge) {
        event.preventDefault();
        (event.shiftKey ? stops[stops.length - 1] : stops[0]).focus();
      }
    }
  });

  // First-party analytics, only with analytics consent. The server takes the address and
  // user agent from the request itself; the page token proves the page came through it.
  const pageToken = attr("data-page-token");
  let lastUrl = null, lastPage = D.referrer;
  const track = (type, name, props) => {
    if (!granted("analytics")) return false;
    const body = { type, url: location.href, referrer: lastPage, w: screen.width };
    if (name) body.name = String(name);
    if (props) body.props = props;
    if (pageToken) body.token = pageToken;
    if (snippet) body.consent = token();
    const url = base + "/collect" + (snippet ? "?site=" + encodeURIComponent(site) : "");
    const data = JSON.stringify(body);
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(url, data)) return true;
    } catch (err) { /* fall back to fetch */ }
    fetch(url, { method: "POST", body: data, keepalive: true, credentials: snippet ? "omit" : "same-origin" })
      .catch((err) => warn("event not sent", err));
    return true;
  };
  const pageview = () => {
    if (location.href.split("#")[0] === lastUrl) return;
    if (track("pageview")) lastPage = lastUrl = location.href.split("#")[0];
  };
  for (const name of ["pushState", "replaceState"]) {
    const original = history[name];
    history[name] = function () {
      const result = original.apply(this, arguments);
      pageview();
      return result;
    };
  }
  W.addEventListener("popstate", pageview);
  D.addEventListener("consent:ready", pageview);
  D.addEventListener("consent:change", pageview);
  // Leaving a tracked page ends its time on page (an engagement hit, counted nowhere else).
  W.addEventListener("pagehide", () => lastUrl === location.href.split("#")[0] && track("pagehide"));

  W.consentGateway = {
    track: (name, props) => track("event", name, props),
    get: categories,
    open: () => show(true),
    onChange: (fn) => {
      const handler = (event) => fn(event.detail);
      D.addEventListener("consent:change", handler);
      return () => D.removeEventListener("consent:change", handler);
    },
  };

  // snippet: load our stylesheet before the banner exists (no layout shift)
  const styled = snippet && !D.querySelector('link[href*="/consent.css"]') &&
    new Promise((done) => {
      const link = el("link", { rel: "stylesheet", href: base + "/consent.css" });
      if (nonce) link.nonce = nonce;
      link.onload = link.onerror = done;
      D.head.append(link);
    });

  (async () => {
    if (!state) {
      try {
        const lang = encodeURIComponent(D.documentElement.lang || "");
        state = await call(snippet ? `/state?site=${encodeURIComponent(site)}&lang=${lang}` : "/state");
        if (state.consent_mode) defaults(state.consent_mode, true);
      } catch (err) {
        warn("no state", err);
        return emit("consent:ready", null);
      }
    }
    if (!snippet) base = (state.prefix || base).replace(/\/+$/, "");
    update();
    // no decision yet: GPC refuses; a notice/none region implies its categories
    const auto = state.consent === null && (state.honour_gpc && navigator.globalPrivacyControl === true
      ? "gpc" : state.mode && state.mode != "opt-in" && "implied");
    if (auto) {
      call("/consent", { action: auto, page: location.pathname, language: state.language })
        .then((data) => explicit() || apply(data)) // a choice made meanwhile wins
        .catch((err) => warn("decision not recorded", err));
    }
    await styled;
    if (D.readyState === "loading") {
      await new Promise((done) => D.addEventListener("DOMContentLoaded", done, { once: true }));
    }
    ui = buildUi();
    if (settled()) hide();
    else show(false);
    if (pendingOpen) show(true);
    unblock();
    emit("consent:ready", categories());
  })();
})();
