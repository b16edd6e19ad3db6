/* shopbot chat widget: one script tag, no build step.
 *   <script src="https://your-bot.example/widget.js" data-token="..." data-title="Chat with us" defer></script>
 * Streams replies over /ws, shows product cards, quick-reply buttons, sources and handoff notices, and resumes the
 * conversation after a reload or a dropped connection. An empty conversation opens with the store's greeting and its
 * suggested questions (/widget/config); prices are written in each card's currency (Intl.NumberFormat); a product
 * without an image, or whose image fails, shows the placeholder; sources show their titles (`source_titles`). On
 * phones (600 px wide or less) the panel is a full-screen sheet; a close button (and Escape) closes it.
 * The server issues the session id and its secret; the widget keeps both in sessionStorage (this tab only, gone
 * when the tab closes, so the next person at a shared computer does not inherit a conversation that verified an
 * order) and resumes only with both.
 * Storefront behaviour: the page calls shopbot.track("product_viewed" | "added_to_cart", productId) and the widget
 * sends card_clicked itself, but only once the shopper has consented (the store's mode, from /widget/config:
 * opt_in asks Yes/No in the panel, notice shows one line with "No thanks"); before that an event is dropped, never
 * queued. With nudges on, a product looked at (or left in the cart) for nudges.after_seconds is reported once
 * (dwell_s), and the server may answer with one nudge message, which opens the panel.
 * CSAT: when the panel closes after a chat (a shopper message answered), one line above the bubble asks for a
 * thumbs up or down, sent as a `feedback` frame; asked once per session. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script.src, location.href);
  var token = script.getAttribute("data-token") || "";
  var title = script.getAttribute("data-title") || "Chat with us";
  var storeKey = "shopbot-session:" + base.host;
  var choiceKey = "shopbot-behaviour:" + base.host, nudgedKey = "shopbot-nudged:" + base.host;
  var config = null, configWaiters = null, dwell = {};
  var ws = null, retries = 0, streaming = null, pending = [], counter = 0;
  var IDLE_CODES = {4000: 1, 4001: 1};  // the server closed a quiet socket: reconnect when the shopper is back
  try { localStorage.removeItem(storeKey); } catch (e) { /* ids kept there by older widgets never resume */ }

  function stored() {
    try { return JSON.parse(sessionStorage.getItem(storeKey) || "null"); } catch (e) { return null; }
  }

  var css = [
    "#shopbot-bubble{position:fixed;right:20px;bottom:20px;width:60px;height:60px;border-radius:50%;border:0;",
    "background:#1f6f50;color:#fff;font-size:28px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}",
    "#shopbot-panel{position:fixed;right:20px;bottom:92px;width:360px;max-width:calc(100vw - 40px);height:520px;",
    "max-height:calc(100vh - 120px);background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);",
    "display:none;flex-direction:column;font:14px/1.4 system-ui,sans-serif;color:#222;z-index:2147483000;overflow:hidden}",
    "#shopbot-panel.open{display:flex}",
    "#shopbot-head{background:#1f6f50;color:#fff;padding:12px 14px;font-weight:600;display:flex;align-items:center;gap:8px}",
    "#shopbot-status{font-weight:400;font-size:12px;opacity:.85;margin-left:auto}",
    "#shopbot-close{border:0;background:transparent;color:#fff;font-size:24px;line-height:1;padding:0 4px;cursor:pointer}",
    "#shopbot-close:focus-visible{outline:2px solid #fff;border-radius:4px}",
    ".sb-suggestions{flex-direction:column;align-items:flex-start}",
    ".sb-suggestions button{text-align:left}",
    "#shopbot-log{flex:1;overflow-y:auto;padding:12px;background:#f6f7f6}",
    ".sb-msg{margin:6px 0;padding:8px 11px;border-radius:10px;max-width:85%;white-space:pre-wrap;word-wrap:break-word}",
    ".sb-user{background:#1f6f50;color:#fff;margin-left:auto}",
    ".sb-bot{background:#fff;border:1px solid #e2e5e2}",
    ".sb-agent{background:#fff7e0;border:1px solid #f0d98a}",
    ".sb-note{font-size:12px;color:#666;text-align:center;margin:8px 0}",
    ".sb-sources{font-size:11px;color:#777;margin-top:4px}",
    ".sb-buttons{display:flex;flex-wrap:wrap;gap:6px;margin:4px 0 8px}",
    ".sb-buttons button{border:1px solid #1f6f50;background:#fff;color:#1f6f50;border-radius:14px;padding:4px 10px;cursor:pointer}",
    ".sb-cards{display:flex;gap:8px;overflow-x:auto;padding:4px 0 8px}",
    ".sb-card{flex:0 0 140px;background:#fff;border:1px solid #e2e5e2;border-radius:8px;padding:6px;font-size:12px;",
    "text-decoration:none;color:#222}",
    ".sb-card img{display:block;width:100%;height:90px;object-fit:contain;background:#eef0ee;border-radius:6px;",
    "color:transparent;overflow:hidden}",
    ".sb-card-title{margin-top:4px}",
    ".sb-price{font-weight:600;color:#1f6f50}",
    "#shopbot-form{display:flex;border-top:1px solid #e2e5e2}",
    "#shopbot-input{flex:1;border:0;padding:12px;font:inherit;outline:none}",
    "#shopbot-send{border:0;background:#fff;color:#1f6f50;font-weight:600;padding:0 14px;cursor:pointer}",
    ".sb-ask{background:#fff;border:1px solid #1f6f50;border-radius:10px;padding:8px 11px;margin:6px 0}",
    ".sb-ask button,#shopbot-notice button{border:1px solid #1f6f50;background:#fff;color:#1f6f50;border-radius:14px;",
    "padding:3px 10px;margin:6px 6px 0 0;cursor:pointer}",
    "#shopbot-notice{position:fixed;right:20px;bottom:92px;max-width:320px;background:#fff;color:#222;",
    "font:13px/1.4 system-ui,sans-serif;border:1px solid #e2e5e2;border-radius:10px;padding:8px 11px;",
    "box-shadow:0 4px 14px rgba(0,0,0,.2);z-index:2147482999}",
    "#shopbot-rate{position:fixed;right:20px;bottom:92px;background:#fff;color:#222;font:13px/1.4 system-ui,sans-serif;",
    "border:1px solid #e2e5e2;border-radius:10px;padding:8px 11px;box-shadow:0 4px 14px rgba(0,0,0,.2);",
    "z-index:2147482999;display:flex;align-items:center;gap:6px}",
    "#shopbot-rate button{border:1px solid #1f6f50;background:#fff;border-radius:14px;padding:2px 9px;cursor:pointer;",
    "font-size:16px;line-height:1.3}#shopbot-rate button.sb-later{border:0;color:#666;font-size:13px}",
    "@media (max-width:600px){#shopbot-panel{top:0;right:0;bottom:0;left:0;width:auto;max-width:none;height:auto;",
    "max-height:none;border-radius:0;box-shadow:none}#shopbot-panel.open~#shopbot-bubble{display:none}",
    "#shopbot-input{font-size:16px}}"  // phones: a full-screen sheet, closed with its close button
  ].join("");
  var style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);

  var bubble = el("button", {id: "shopbot-bubble", "aria-label": title, title: title});
  bubble.innerHTML = '<svg width="28" height="28" viewBox="0 0 24 24" fill="#fff" aria-hidden="true">' +
    '<path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
  var panel = el("div", {id: "shopbot-panel", role: "dialog", "aria-label": title});
  var head = el("div", {id: "shopbot-head"}, title);
  var status = el("span", {id: "shopbot-status"}, "connecting...");
  var closer = el("button", {id: "shopbot-close", type: "button", "aria-label": "Close chat", title: "Close"}, "\u00d7");
  head.appendChild(status); head.appendChild(closer);
  var PLACEHOLDER = new URL("/widget/placeholder.svg", base).href;  // a product without an image, or a broken one
  var log = el("div", {id: "shopbot-log", "aria-live": "polite"});
  var form = el("form", {id: "shopbot-form"});
  var input = el("input", {id: "shopbot-input", placeholder: "Ask about orders, returns, products...",
                           autocomplete: "off", maxlength: "2000"});
  form.appendChild(input);
  form.appendChild(el("button", {id: "shopbot-send", type: "submit"}, "Send"));
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(form);
  document.body.appendChild(panel); document.body.appendChild(bubble);

  bubble.addEventListener("click", function () {
    panel.classList.toggle("open");
    if (panel.classList.contains("open")) { input.focus(); opened(); }
  });
  function closePanel() { panel.classList.remove("open"); bubble.focus(); }
  closer.addEventListener("click", closePanel);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") closePanel(); });

  function opened() { ensure(); ping(); withConfig(function (c) { greet(c); ask(); }); }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    unsuggest();
    send(text, text);
  });

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function scroll() { log.scrollTop = log.scrollHeight; }

  function bubbleText(role, text) {
    var node = el("div", {"class": "sb-msg sb-" + role}, text);
    log.appendChild(node); scroll();
    return node;
  }

  function note(text) { log.appendChild(el("div", {"class": "sb-note"}, text)); scroll(); }

  function send(text, shown) {
    bubbleText("user", shown);
    sendFrame({type: "message", text: text, message_id: "w" + Date.now().toString(36) + (counter++)});
  }

  function sendFrame(frame) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame)); else { pending.push(frame); ensure(); }
  }

  function kept(key) { try { return sessionStorage.getItem(key); } catch (e) { return null; } }

  function keep(key, value) {
    try { if (value) sessionStorage.setItem(key, value); else sessionStorage.removeItem(key); } catch (e) { /* */ }
  }

  function withConfig(done) {  // the store's consent mode and nudges, asked once (nothing is sent before it)
    if (config) { done(config); return; }
    if (configWaiters) { configWaiters.push(done); return; }
    configWaiters = [done];
    var url = new URL("/widget/config", base);
    if (token) url.searchParams.set("token", token);
    fetch(url.href, {credentials: "omit"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; })
      .then(function (c) {
        var waiting = configWaiters;
        configWaiters = null;
        config = c && c.behaviour ? c : null;  // unreachable or refused: nothing is sent; asked again next time
        waiting.forEach(function (f) { f(config || {behaviour: null, nudges: null}); });
      });
  }

  function allowed() {  // opt_in: only after "Yes"; notice: until "No thanks"
    var b = config && config.behaviour;
    if (!b) return false;
    return b.consent === "notice" ? kept(choiceKey) !== "no" : kept(choiceKey) === "yes";
  }

  function ask() {  // opt_in: a small Yes/No in the panel, once per session
    var b = config && config.behaviour;
    if (!b || b.consent !== "opt_in" || kept(choiceKey) || document.getElementById("shopbot-ask")) return;
    var box = el("div", {id: "shopbot-ask", "class": "sb-ask"});
    box.appendChild(el("div", {}, "May we " + b.words + "?"));
    var yes = el("button", {type: "button"}, "Yes"), no = el("button", {type: "button"}, "No");
    yes.addEventListener("click", function () {
      keep(choiceKey, "yes"); box.remove(); send('/consent{"behaviour": true}', "Yes");
    });
    no.addEventListener("click", function () { keep(choiceKey, "no"); box.remove(); });
    box.appendChild(yes); box.appendChild(no);
    log.appendChild(box); scroll();
  }

  function greet(c) {  // an empty conversation opens with the store's greeting and its suggested questions
    if (document.getElementById("shopbot-greeting") || log.querySelector(".sb-msg")) return;
    var g = c && c.greeting;
    bubbleText("bot", (g && g.text) || "Hi! How can I help?").id = "shopbot-greeting";
    var list = (g && g.suggestions) || [];
    if (!list.length) return;
    var row = el("div", {id: "shopbot-suggestions", "class": "sb-buttons sb-suggestions"});
    list.forEach(function (q) {
      var button = el("button", {type: "button"}, q.title);
      button.addEventListener("click", function () { unsuggest(); send(q.payload || q.title, q.title); });
      row.appendChild(button);
    });
    log.appendChild(row); scroll();
  }

  function unsuggest() { var row = document.getElementById("shopbot-suggestions"); if (row) row.remove(); }

  function money(amount, currency) {  // the store's currency, as the shopper's browser writes it
    var code = String(currency || (config && config.store && config.store.currency) || "USD").toUpperCase();
    try {
      return new Intl.NumberFormat(navigator.language || undefined, {style: "currency", currency: code})
        .format(Number(amount));
    } catch (e) { return Number(amount).toFixed(2) + " " + code; }
  }

  function link(c) {  // the card's page; a relative link is the bot's own storefront page, never the host page's
    var url = null;
    try { url = c.link ? new URL(c.link, base) : null; } catch (e) { url = null; }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) {
      url = new URL("/products/" + encodeURIComponent(c.id || ""), base);
    }
    return url.href;
  }

  function sourceTitles(ev) {  // readable titles from the server; older servers send ids only
    var titles = ev.source_titles;
    if (titles && titles.length === ev.sources.length) return titles;
    return ev.sources.map(function (id) {
      var rest = String(id).replace(/^[a-z_]+:/, "").replace(/[-_#]+/g, " ").trim();
      return rest.charAt(0).toUpperCase() + rest.slice(1);
    });
  }

  function notice(b) {  // notice: one line above the bubble, with a way to say no
    if (document.getElementById("shopbot-notice")) return;
    var bar = el("div", {id: "shopbot-notice", role: "status"});
    bar.appendChild(el("div", {}, "We " + b.words + "."));
    var ok = el("button", {type: "button"}, "OK"), no = el("button", {type: "button"}, "No thanks");
    ok.addEventListener("click", function () { keep(choiceKey, "yes"); bar.remove(); });
    no.addEventListener("click", function () {
      keep(choiceKey, "no"); bar.remove(); stopDwell();
      if (stored()) send('/consent{"behaviour": false}', "No thanks");  // what was kept goes too
    });
    bar.appendChild(ok); bar.appendChild(no);
    document.body.appendChild(bar);
  }

  function track(name, productId) {
    if (typeof name !== "string" || productId === undefined || productId === null) return;
    productId = String(productId);
    withConfig(function (c) {
      if (!c.behaviour) return;
      if (c.behaviour.consent === "notice" && !kept(choiceKey)) notice(c.behaviour);
      if (!allowed()) return;  // no consent: dropped here, never queued for later
      sendFrame({type: "event", name: name, product_id: productId});
      if (c.nudges && name !== "card_clicked") watchDwell(name, productId, c.nudges.after_seconds);
    });
  }

  function watchDwell(name, productId, after) {  // one report when a view (or the cart) has lasted long enough
    var key = name === "added_to_cart" ? "cart" : "view";
    if (kept(nudgedKey) || (key === "cart" && dwell.cart)) return;
    if (dwell[key]) clearTimeout(dwell[key]);
    var started = Date.now();
    dwell[key] = setTimeout(function () {
      if (!allowed() || kept(nudgedKey)) return;
      sendFrame({type: "event", name: name, product_id: productId,
                 dwell_s: Math.round((Date.now() - started) / 100) / 10});
    }, after * 1000);
  }

  function stopDwell() {
    Object.keys(dwell).forEach(function (k) { clearTimeout(dwell[k]); });
    dwell = {};
  }

  function ensure() { if (!ws || ws.readyState > 1) connect(); }

  function ping() {  // an open panel keeps its socket: the server closes sockets that stay silent
    if (ws && ws.readyState === 1 && panel.classList.contains("open")) ws.send('{"type":"ping"}');
  }

  function buttons(list) {
    if (!list || !list.length) return;
    var row = el("div", {"class": "sb-buttons"});
    list.forEach(function (b) {
      var button = el("button", {type: "button"}, b.title);
      button.addEventListener("click", function () { row.remove(); send(b.payload, b.title); });
      row.appendChild(button);
    });
    log.appendChild(row); scroll();
  }

  function cards(list) {
    if (!list || !list.length) return;
    var row = el("div", {"class": "sb-cards"});
    list.forEach(function (c) {
      var card = el("a", {"class": "sb-card", href: link(c), target: "_blank", rel: "noopener"});
      if (c.id) card.addEventListener("click", function () { track("card_clicked", c.id); });
      var img = el("img", {alt: "", loading: "lazy"});  // the title is written below: no alt text as content
      img.onerror = function () { img.onerror = null; img.src = PLACEHOLDER; };
      img.src = c.image ? new URL(c.image, base).href : PLACEHOLDER;
      card.appendChild(img);
      card.appendChild(el("div", {"class": "sb-card-title"}, c.title));
      card.appendChild(el("div", {"class": "sb-price"}, money(c.price, c.currency)));
      if (c.reason) card.appendChild(el("div", {}, c.reason));
      row.appendChild(card);
    });
    log.appendChild(row); scroll();
  }

  function onEvent(ev) {
    if (ev.type === "session") {
      if (ev.reason && log.childNodes.length) note("A new conversation has started.");
      sessionStorage.setItem(storeKey, JSON.stringify({id: ev.session_id, secret: ev.secret}));
      status.textContent = "online";
    } else if (ev.type === "history") {
      log.innerHTML = "";
      ev.messages.forEach(function (m) { if (m.hidden) note(m.text); else bubbleText(m.role, m.text); });
      if (ev.messages.length) buttons(ev.messages[ev.messages.length - 1].buttons);
      else withConfig(greet);  // nothing said yet: the greeting again
      ask();
    } else if (ev.type === "typing") {
      streaming = bubbleText("bot", "\u2026");
      streaming.dataset.fresh = "1";
    } else if (ev.type === "chunk") {
      if (!streaming) streaming = bubbleText("bot", "");
      if (streaming.dataset.fresh) { streaming.textContent = ""; delete streaming.dataset.fresh; }
      streaming.textContent += ev.text; scroll();
    } else if (ev.type === "message") {
      behaviourNews(ev.data || {});
      var node = streaming || bubbleText(ev.data && ev.data.agent ? "agent" : "bot", "");
      streaming = null;
      node.textContent = ev.text || "";
      if (!ev.text) node.remove();
      if (ev.sources && ev.sources.length) {
        node.appendChild(el("div", {"class": "sb-sources"}, "Source: " + sourceTitles(ev).join("; ")));
      }
      cards(ev.cards);
      buttons(ev.buttons);
    } else if (ev.type === "handoff") {
      note(ev.text || "A member of our team will reply here.");
    } else if (ev.type === "error" && (ev.event || ev.feedback)) {  // an event or rating not kept: never shown
      if (ev.code === "consent_required" && kept(choiceKey) === "yes") keep(choiceKey, null);
    } else if (ev.type === "error") {
      streaming = null;
      note(ev.detail || "Something went wrong.");
    }
  }

  function behaviourNews(data) {  // consent choices and nudges, whichever way they came
    var c = data.consent;
    if (c && (c.granted || []).indexOf("behaviour") >= 0) keep(choiceKey, "yes");
    if (c && (c.withdrawn || []).indexOf("behaviour") >= 0) { keep(choiceKey, "no"); stopDwell(); }
    if (data.nudge_refused || data.nudge === true) { keep(nudgedKey, "1"); stopDwell(); }
    if (data.nudge === true && !panel.classList.contains("open")) { panel.classList.add("open"); ping(); }
  }

  function connect() {
    var url = new URL("/ws", base);
    url.protocol = base.protocol === "https:" ? "wss:" : "ws:";
    var session = stored();
    if (session && session.id && session.secret) {
      url.searchParams.set("session_id", session.id);
      url.searchParams.set("secret", session.secret);
    }
    if (token) url.searchParams.set("token", token);
    var socket = ws = new WebSocket(url.href);
    socket.onopen = function () {
      retries = 0;
      ping();
      while (pending.length) socket.send(JSON.stringify(pending.shift()));
    };
    socket.onmessage = function (m) { try { onEvent(JSON.parse(m.data)); } catch (e) { /* not ours */ } };
    socket.onclose = function (e) {
      if (socket !== ws) return;
      if (IDLE_CODES[e.code] && !pending.length && !panel.classList.contains("open")) {
        status.textContent = "idle"; return;  // reconnects when the panel opens or the shopper sends
      }
      status.textContent = "reconnecting...";
      var wait = Math.min(10000, 500 * Math.pow(2, retries++));
      setTimeout(function () { if (socket === ws) connect(); }, wait);
    };
  }

  // CSAT: the panel closing after a chat (a shopper message, then a reply) asks once per session for a thumbs up or
  // down; the rating goes as a `feedback` frame and the server keeps it in the conversation's log
  var ratedKey = "shopbot-rated:" + base.host, wasOpen = false;
  function chatted() {
    var user = log.querySelector(".sb-user");
    if (!user) return false;
    var replies = log.querySelectorAll(".sb-bot, .sb-agent");
    for (var i = 0; i < replies.length; i++) {
      if (user.compareDocumentPosition(replies[i]) & Node.DOCUMENT_POSITION_FOLLOWING) return true;
    }
    return false;
  }
  function hideRating() { var bar = document.getElementById("shopbot-rate"); if (bar) bar.remove(); }
  function chatEnded() {
    var session = stored(), id = session && session.id;
    if (!id || kept(ratedKey) === id || !chatted() || document.getElementById("shopbot-rate")) return;
    var bar = el("div", {id: "shopbot-rate", role: "group", "aria-label": "Rate this chat"});
    bar.appendChild(el("span", {}, "How was this chat?"));
    [["up", "\uD83D\uDC4D", "Helpful"], ["down", "\uD83D\uDC4E", "Not helpful"]].forEach(function (r) {
      var b = el("button", {type: "button", "data-rating": r[0], "aria-label": r[2], title: r[2]}, r[1]);
      b.addEventListener("click", function () {
        keep(ratedKey, id);
        sendFrame({type: "feedback", rating: r[0]});
        bar.textContent = "Thanks for your feedback!";
        setTimeout(hideRating, 2500);
      });
      bar.appendChild(b);
    });
    var later = el("button", {type: "button", "class": "sb-later", "aria-label": "Not now", title: "Not now"},
                   "\u00d7");
    later.addEventListener("click", function () { keep(ratedKey, id); hideRating(); });
    bar.appendChild(later);
    document.body.appendChild(bar);
  }
  new MutationObserver(function () {  // however the panel closes (bubble, close button, Escape)
    var open = panel.classList.contains("open");
    if (open) hideRating(); else if (wasOpen) chatEnded();
    wasOpen = open;
  }).observe(panel, {attributes: true, attributeFilter: ["class"]});

  setInterval(ping, 25000);
  window.shopbot = window.ShopBot = {open: function () { panel.classList.add("open"); opened(); },
                                     send: function (text) { send(text, text); }, track: track};
  if (stored()) connect();
})();
