/* One-time secrets, in the browser: encrypt on /secret/, decrypt on /secret/<id>/.
 *
 * The format is the one of src/ronron/secrets/envelope.py, which Ronron also uses when it seals
 * credentials itself: keep both in step. The link's key K never leaves this page except in the
 * link's fragment, which browsers do not send to servers.
 *
 * The pages run under Trusted Types with no policy: the DOM is built with createElement and
 * textContent only, so that a secret can only ever be shown as text. Every sentence comes from
 * the page (data-string elements), where Django translates it.
 */
"use strict";

(function () {
  const INFO = new TextEncoder().encode("ronron secret v1");
  const KEY_BYTES = 32;
  const IV_BYTES = 12;
  const SALT_BYTES = 16;
  const KEY_IN_FRAGMENT = /^#([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/;
  const STORED_FRAGMENT = "ronron-secret-fragment:";

  const page = document.getElementById("secret-page");
  if (!page) {
    return;
  }

  /* Helpers shared by both pages */

  function byId(id) {
    return document.getElementById(id);
  }

  function t(name) {
    const element = page.querySelector('[data-string="' + name + '"]');
    return element ? element.textContent.trim() : name;
  }

  function b64encode(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function b64decode(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
      throw new Error("not base64url");
    }
    const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }

  function concat(first, second) {
    const joined = new Uint8Array(first.length + second.length);
    joined.set(first, 0);
    joined.set(second, first.length);
    return joined;
  }

  function randomBytes(count) {
    return crypto.getRandomValues(new Uint8Array(count));
  }

  function utf8Length(text) {
    return new TextEncoder().encode(text).length;
  }

  /* The envelope: see envelope.py for the why of each step. */

  async function aesKey(linkKey, salt, iterations, passphrase, usage) {
    let material = linkKey;
    if (salt.length) {
      const secret = new TextEncoder().encode(passphrase.normalize("NFC"));
      const base = await crypto.subtle.importKey("raw", secret, "PBKDF2", false, ["deriveBits"]);
      const stretched = await crypto.subtle.deriveBits(
        { name: "PBKDF2", hash: "SHA-256", salt: salt, iterations: iterations },
        base,
        256
      );
      material = concat(linkKey, new Uint8Array(stretched));
    }
    const hkdf = await crypto.subtle.importKey("raw", material, "HKDF", false, ["deriveKey"]);
    return crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: salt, info: INFO },
      hkdf,
      { name: "AES-GCM", length: 256 },
      false,
      [usage]
    );
  }

  async function seal(text, passphrase, iterations) {
    const linkKey = randomBytes(KEY_BYTES);
    const salt = passphrase ? randomBytes(SALT_BYTES) : new Uint8Array(0);
    const iv = randomBytes(IV_BYTES);
    const key = await aesKey(linkKey, salt, iterations, passphrase, "encrypt");
    const ciphertext = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: iv, additionalData: INFO },
      key,
      new TextEncoder().encode(text)
    );
    return {
      linkKey: b64encode(linkKey),
      sealed: {
        ciphertext: b64encode(new Uint8Array(ciphertext)),
        iv: b64encode(iv),
        salt: salt.length ? b64encode(salt) : "",
        iterations: salt.length ? iterations : 0,
      },
    };
  }

  /* Throws if the key or the passphrase does not open the secret. */
  async function openSealed(sealed, linkKey, passphrase) {
    const salt = sealed.salt ? b64decode(sealed.salt) : new Uint8Array(0);
    const key = await aesKey(b64decode(linkKey), salt, sealed.iterations, passphrase, "decrypt");
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: b64decode(sealed.iv), additionalData: INFO },
      key,
      b64decode(sealed.ciphertext)
    );
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  }

  /* Talking to the server */

  class Refused extends Error {}

  function csrfToken() {
    const input = page.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(body) {
    let response;
    try {
      response = await fetch(location.pathname, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken(),
        },
        body: JSON.stringify(body || {}),
        credentials: "same-origin",
        cache: "no-store",
        redirect: "error",
      });
    } catch (error) {
      throw new Refused(t("network"));
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    return { status: response.status, data: data };
  }

  function detailOf(data) {
    return data && typeof data.detail === "string" && data.detail ? data.detail : t("refused");
  }

  /* Showing things */

  function showAlert(message) {
    const region = byId("secret-alert");
    region.replaceChildren();
    if (message) {
      const paragraph = document.createElement("p");
      paragraph.className = "message message--error";
      paragraph.textContent = message;
      region.append(paragraph);
    }
  }

  function say(element, message) {
    if (element) {
      // Emptied first, so that the same words said twice are announced twice.
      element.textContent = "";
      window.setTimeout(function () {
        element.textContent = message;
      }, 50);
    }
  }

  function setFieldError(input, message) {
    const region = byId(input.id + "-error");
    const field = input.closest(".field");
    region.replaceChildren();
    if (message) {
      const paragraph = document.createElement("p");
      paragraph.textContent = message;
      region.append(paragraph);
      input.setAttribute("aria-invalid", "true");
      field.classList.add("field--error");
    } else {
      input.removeAttribute("aria-invalid");
      field.classList.remove("field--error");
    }
  }

  function setBusy(button, busy) {
    button.disabled = busy;
    if (busy) {
      button.setAttribute("aria-busy", "true");
    } else {
      button.removeAttribute("aria-busy");
    }
  }

  function selectText(element) {
    if (element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement) {
      element.focus();
      element.select();
      return;
    }
    element.focus();
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  const copyable = new Map();

  function setCopyable(elementId, text) {
    copyable.set(elementId, text);
  }

  async function copy(elementId) {
    const element = byId(elementId);
    const status = page.querySelector('[data-copy-status="' + elementId + '"]');
    const text = copyable.has(elementId) ? copyable.get(elementId) : element.textContent;
    try {
      await navigator.clipboard.writeText(text);
      say(status, t("copied"));
      return;
    } catch (error) {
      // No clipboard permission (or an old browser): select it and let the person copy.
    }
    selectText(element);
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    say(status, t(copied ? "copied" : "copy-by-hand"));
  }

  function wireCommonControls() {
    page.querySelectorAll("[data-copies]").forEach(function (button) {
      button.addEventListener("click", function () {
        copy(button.dataset.copies);
      });
    });
    page.querySelectorAll("[data-reveals]").forEach(function (checkbox) {
      checkbox.addEventListener("change", function () {
        byId(checkbox.dataset.reveals).type = checkbox.checked ? "text" : "password";
      });
    });
  }

  function supported() {
    return Boolean(
      window.isSecureContext &&
        window.crypto &&
        window.crypto.subtle &&
        typeof window.TextEncoder === "function" &&
        typeof window.fetch === "function"
    );
  }

  /* The page that writes a secret */

  function newPage() {
    const form = byId("secret-form");
    const textarea = byId("secret-text");
    const passphrase = byId("secret-passphrase");
    const lifetime = byId("secret-lifetime");
    const button = byId("secret-submit");
    const status = byId("secret-status");
    const result = byId("secret-result");
    const maxBytes = parseInt(page.dataset.maxBytes, 10);
    const iterations = parseInt(page.dataset.iterations, 10);
    const numbers = new Intl.NumberFormat(document.documentElement.lang || undefined);

    function bytesLeft() {
      return maxBytes - utf8Length(textarea.value);
    }

    // Both figures in the page's language, not one formatted and one raw.
    byId("secret-bytes-max").textContent = numbers.format(maxBytes);

    function updateCount() {
      const left = bytesLeft();
      byId("secret-bytes-left").textContent = numbers.format(left);
      byId("secret-text-count").classList.toggle("secret-count--over", left < 0);
      if (left < 0) {
        setFieldError(textarea, t("too-long"));
      } else if (textarea.getAttribute("aria-invalid") === "true") {
        setFieldError(textarea, "");
      }
    }

    function expiryInWords(iso) {
      const when = new Date(iso);
      if (Number.isNaN(when.getTime())) {
        return iso;
      }
      return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
        dateStyle: "full",
        timeStyle: "short",
      }).format(when);
    }

    async function submit(event) {
      event.preventDefault();
      showAlert("");
      setFieldError(passphrase, "");
      const text = textarea.value;
      if (!text.trim()) {
        setFieldError(textarea, t("empty"));
        textarea.focus();
        return;
      }
      if (bytesLeft() < 0) {
        setFieldError(textarea, t("too-long"));
        textarea.focus();
        return;
      }
      setFieldError(textarea, "");
      setBusy(button, true);
      say(status, t("working"));
      try {
        let made;
        try {
          made = await seal(text, passphrase.value, iterations);
        } catch (error) {
          throw new Refused(t("failed"));
        }
        const body = Object.assign({ lifetime: parseInt(lifetime.value, 10) }, made.sealed);
        const answer = await post(body);
        if (answer.status !== 201 || !answer.data || typeof answer.data.path !== "string") {
          throw new Refused(detailOf(answer.data));
        }
        const link = location.origin + answer.data.path + "#" + made.linkKey;
        const withPassphrase = Boolean(passphrase.value);
        textarea.value = "";
        passphrase.value = "";
        updateCount();
        byId("secret-link").value = link;
        setCopyable("secret-link", link);
        byId("secret-expiry").textContent = expiryInWords(answer.data.expires_at);
        byId("secret-result-passphrase").hidden = !withPassphrase;
        form.hidden = true;
        result.hidden = false;
        say(status, "");
        result.focus();
      } catch (error) {
        say(status, "");
        showAlert(error instanceof Refused ? error.message : t("failed"));
      } finally {
        setBusy(button, false);
      }
    }

    function again() {
      byId("secret-link").value = "";
      setCopyable("secret-link", "");
      page.querySelectorAll("[data-copy-status]").forEach(function (element) {
        element.textContent = "";
      });
      result.hidden = true;
      form.hidden = false;
      textarea.focus();
    }

    textarea.addEventListener("input", updateCount);
    form.addEventListener("submit", submit);
    byId("secret-again").addEventListener("click", again);
    updateCount();
    form.hidden = false;
  }

  /* The page that reveals a secret */

  function storageKey() {
    return STORED_FRAGMENT + location.pathname;
  }

  /* The language switch reloads the page at its path without the fragment: keep the fragment
   * in this tab's storage meanwhile (never on the server), and put it back at once. */
  function keepFragmentAcrossLanguageSwitch() {
    const languageForm = document.querySelector(".language-form");
    if (languageForm) {
      languageForm.addEventListener("submit", function () {
        if (location.hash) {
          try {
            sessionStorage.setItem(storageKey(), location.hash);
          } catch (error) {
            // Storage refused (private mode…): the switch loses the key, as without this.
          }
        }
      });
    }
    let stored = null;
    try {
      stored = sessionStorage.getItem(storageKey());
      sessionStorage.removeItem(storageKey());
    } catch (error) {
      stored = null;
    }
    if (stored && !location.hash && stored.charAt(0) === "#") {
      history.replaceState(history.state, "", location.pathname + location.search + stored);
    }
  }

  function linkKeyFromFragment() {
    const match = KEY_IN_FRAGMENT.exec(location.hash);
    if (!match) {
      return null;
    }
    try {
      return b64decode(match[1]).length === KEY_BYTES ? match[1] : null;
    } catch (error) {
      return null;
    }
  }

  function forgetFragment() {
    if (location.hash) {
      history.replaceState(history.state, "", location.pathname + location.search);
    }
  }

  function showPage() {
    keepFragmentAcrossLanguageSwitch();
    const form = byId("secret-form");
    if (!form) {
      return; // The secret is gone: the page says so already.
    }
    if (!supported()) {
      byId("secret-unsupported").hidden = false;
      return;
    }
    const hasPassphrase = page.dataset.hasPassphrase === "true";
    const passphrase = byId("secret-passphrase");
    const button = byId("secret-submit");
    const status = byId("secret-status");
    let sealed = null; // Once claimed, the secret lives here only: retries stay local.
    let linkKey = null;
    let claimed = false;

    /* Revealing without the key would burn the secret for nothing: nobody could open it.
     * Checked again when the fragment changes (a corrected link pasted in the same tab
     * does not reload the page). */
    function checkKey() {
      if (claimed) {
        return;
      }
      linkKey = linkKeyFromFragment();
      byId("secret-incomplete").hidden = Boolean(linkKey);
      form.hidden = !linkKey;
    }

    function gone() {
      claimed = true;
      byId("secret-intro").hidden = true;
      form.hidden = true;
      byId("secret-gone").hidden = false;
      byId("secret-gone-title").setAttribute("tabindex", "-1");
      byId("secret-gone-title").focus();
    }

    function show(text) {
      const shown = byId("secret-revealed");
      shown.textContent = text;
      setCopyable("secret-revealed", text);
      form.hidden = true;
      byId("secret-intro").hidden = true;
      byId("secret-result").hidden = false;
      byId("secret-result").focus();
    }

    async function reveal(event) {
      event.preventDefault();
      showAlert("");
      if (!linkKey) {
        return;
      }
      const typed = hasPassphrase ? passphrase.value : "";
      if (hasPassphrase && !typed) {
        setFieldError(passphrase, t("passphrase-needed"));
        passphrase.focus();
        return;
      }
      setBusy(button, true);
      say(status, t("working"));
      try {
        if (!sealed) {
          const answer = await post(null);
          if (answer.status === 410 || answer.status === 404) {
            gone();
            return;
          }
          if (answer.status !== 200 || !answer.data || typeof answer.data.ciphertext !== "string") {
            throw new Refused(detailOf(answer.data));
          }
          sealed = answer.data;
          claimed = true;
          forgetFragment();
        }
        let text;
        try {
          text = await openSealed(sealed, linkKey, typed);
        } catch (error) {
          if (hasPassphrase) {
            setFieldError(passphrase, t("wrong-passphrase") + " " + t("keep-open"));
            button.textContent = t("try-again");
            passphrase.focus();
            passphrase.select();
            return;
          }
          form.hidden = true;
          sealed = null;
          throw new Refused(t("damaged"));
        }
        sealed = null;
        if (passphrase) {
          passphrase.value = "";
          setFieldError(passphrase, "");
        }
        show(text);
      } catch (error) {
        showAlert(error instanceof Refused ? error.message : t("failed"));
      } finally {
        say(status, "");
        setBusy(button, false);
      }
    }

    // Leaving while the claimed secret is still locked would lose it for good.
    window.addEventListener("beforeunload", function (event) {
      if (sealed) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    form.addEventListener("submit", reveal);
    window.addEventListener("hashchange", checkKey);
    checkKey();
  }

  /* Start */

  wireCommonControls();
  if (page.dataset.page === "show") {
    showPage();
  } else if (supported()) {
    newPage();
  } else {
    byId("secret-unsupported").hidden = false;
  }
})();
