// One-ID passkey ceremonies in the browser, with SimpleWebAuthn's browser library (served
// locally as /static/webauthn.js). No inline script: loaded with the page's CSP nonce.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body || {}),
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) { var e = new Error(data.message || data.detail || 'failed'); e.server = true; throw e; }
        return data;
      });
    });
  }

  function setup(root) {
    var status = root.querySelector('#status');
    var error = root.querySelector('#error');
    var buttons = root.querySelectorAll('button');
    var working = false;
    // aria-disabled, not disabled: a disabled button loses focus to <body>, and a keyboard or
    // screen reader user would lose their place while the browser asks for the passkey.
    function busy(on) {
      working = on;
      for (var i = 0; i < buttons.length; i++) {
        if (on) buttons[i].setAttribute('aria-disabled', 'true');
        else buttons[i].removeAttribute('aria-disabled');
      }
      status.textContent = on ? root.dataset.msgWorking : '';
    }
    // Messages that belong to one control are written next to it and tied to it (aria-describedby).
    function clearFieldErrors() {
      var fields = root.querySelectorAll('[data-error-for]');
      for (var i = 0; i < fields.length; i++) {
        fields[i].textContent = '';
        var control = document.getElementById(fields[i].getAttribute('data-error-for'));
        if (control) control.removeAttribute('aria-invalid');
      }
    }
    function fieldError(id, message) {
      var field = root.querySelector('[data-error-for="' + id + '"]');
      var control = document.getElementById(id);
      if (!field || !control || !message) return false;
      field.textContent = message;
      if (control.tagName === 'INPUT') control.setAttribute('aria-invalid', 'true');
      return true;
    }
    function fail(err, source) {
      busy(false);
      // Citizen-readable messages come from the server. The browser says NotAllowedError alike
      // for a cancelled prompt and for no passkey on this device (WebAuthn keeps the two apart
      // from the page on purpose): the message next to the control used says both and what to do.
      // InvalidStateError (WebAuthn excludeCredentials): this device already holds a passkey for
      // the account, which says so rather than "try again".
      if (err && !err.server && err.name === 'NotAllowedError' && source) {
        var message = source === 'identifier' ? root.dataset.msgNoPasskeyIdentifier : root.dataset.msgNoPasskey;
        if (message && fieldError(source === 'identifier' ? 'identifier' : 'passkey-button', message)) return;
      }
      error.textContent = err && err.server ? err.message
        : err && (err.name === 'InvalidStateError' || err.code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED')
          && root.dataset.msgExists ? root.dataset.msgExists
        : root.dataset.msgFailed;
    }
    function finish(data) {
      if (data.location) window.location.assign(data.location);
    }
    if (!lib || !lib.browserSupportsWebAuthn()) {
      error.textContent = root.dataset.msgUnsupported;
      return null;
    }
    return {
      working: function () { return working; },
      fieldError: function (id, message) { clearFieldErrors(); error.textContent = ''; return fieldError(id, message); },
      authenticate: function (body, autofill, source) {
        if (!autofill) { busy(true); error.textContent = ''; clearFieldErrors(); }
        return post(root.dataset.optionsUrl, body)
          .then(function (options) { return lib.startAuthentication({ optionsJSON: options, useBrowserAutofill: !!autofill }); })
          .then(function (response) { busy(true); return post(root.dataset.verifyUrl, response); })
          .then(finish)
          .catch(function (err) { if (!autofill || (err && err.server)) fail(err, autofill ? undefined : source); });
      },
      register: function () {
        if (working) return undefined;
        busy(true); error.textContent = '';
        return post(root.dataset.optionsUrl, {})
          .then(function (options) { return lib.startRegistration({ optionsJSON: options }); })
          .then(function (response) { return post(root.dataset.verifyUrl, response); })
          .then(finish)
          .catch(fail);
      },
    };
  }

  var login = document.getElementById('passkey-login');
  if (login) {
    var auth = setup(login);
    if (auth) {
      document.getElementById('passkey-button').addEventListener('click', function () {
        if (!auth.working()) auth.authenticate({}, false, 'button');
      });
      document.getElementById('identifier-form').addEventListener('submit', function (event) {
        event.preventDefault();
        if (auth.working()) return;
        var field = document.getElementById('identifier');
        var identifier = field.value.trim();
        // An empty field is a mistake to point at, not a reason to open the browser's prompt.
        if (!identifier && auth.fieldError('identifier', login.dataset.msgEmpty)) {
          field.focus();
          return;
        }
        auth.authenticate(identifier ? { identifier: identifier } : {}, false, identifier ? 'identifier' : 'button');
      });
      // Conditional UI: offer saved passkeys in the field's autofill when the browser can.
      lib.browserSupportsWebAuthnAutofill().then(function (yes) { if (yes) auth.authenticate({}, true); });
    }
  }
  var enrol = document.getElementById('passkey-register');
  if (enrol) {
    var reg = setup(enrol);
    if (reg) document.getElementById('register-button').addEventListener('click', function () { reg.register(); });
  }

  // Certificate sign-in with a signed challenge (docs/certificates.md). The citizen's signing
  // software signs the nonce; the signature is pasted into #certificate-jws, or handed over by
  // a browser extension through window.postMessage (same window, same origin only):
  //   page -> extension: { type: 'one-id:certificate-ready' } on load, and
  //                      { type: 'one-id:certificate-challenge', nonce, audience, typ, algorithms, expiresIn }
  //   extension -> page: { type: 'one-id:certificate-request' } asks for a challenge;
  //                      { type: 'one-id:certificate-signed', jws } signs in with the compact JWS.
  var cert = document.getElementById('certificate-login');
  if (cert) {
    var certStatus = document.getElementById('certificate-status');
    var certError = document.getElementById('certificate-error');
    var nonceField = document.getElementById('certificate-nonce');
    var jwsField = document.getElementById('certificate-jws');
    var certButtons = cert.querySelectorAll('button');
    var certBusy = function (on) {
      for (var i = 0; i < certButtons.length; i++) certButtons[i].disabled = on;
      certStatus.textContent = on ? cert.dataset.msgWorking : '';
    };
    var certFail = function (err) {
      certBusy(false);
      certError.textContent = err && err.server ? err.message : cert.dataset.msgFailed;
    };
    var announce = function (message) { window.postMessage(message, window.location.origin); };
    var challenge = function () {
      certError.textContent = '';
      return post(cert.dataset.challengeUrl, {}).then(function (c) {
        nonceField.value = c.nonce;
        cert.dataset.nonce = c.nonce;
        announce({ type: 'one-id:certificate-challenge', nonce: c.nonce, audience: c.audience, typ: c.typ, algorithms: c.algorithms, expiresIn: c.expiresIn });
        nonceField.focus();
        nonceField.select();
      }).catch(certFail);
    };
    var verify = function (jws) {
      certError.textContent = '';
      if (!jws) { certError.textContent = cert.dataset.msgMissing; return; }
      certBusy(true);
      post(cert.dataset.verifyUrl, { jws: jws })
        .then(function (data) { if (data.location) window.location.assign(data.location); })
        .catch(certFail);
    };
    document.getElementById('certificate-challenge-button').addEventListener('click', challenge);
    document.getElementById('certificate-form').addEventListener('submit', function (event) {
      event.preventDefault();
      verify(jwsField.value.trim());
    });
    window.addEventListener('message', function (event) {
      if (event.source !== window || event.origin !== window.location.origin) return;
      var data = event.data || {};
      if (data.type === 'one-id:certificate-request') challenge();
      if (data.type === 'one-id:certificate-signed' && typeof data.jws === 'string') {
        jwsField.value = data.jws;
        verify(data.jws.trim());
      }
    });
    announce({ type: 'one-id:certificate-ready' });
  }
})();
