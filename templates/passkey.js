// Passkeys on the hosted pages. A form marked `data-passkey` stays hidden unless the browser
// has WebAuthn with JSON options (so without JavaScript the page works as before). Its button
// asks guildhall for a challenge (`POST /oauth2/passkey/options`, with the form's handle, CSRF
// token and, on the second-factor page, mfa_token), lets the browser's authenticator answer
// it, and posts the answer with the form; guildhall verifies it (webauthn-rs).
(function () {
  'use strict';
  var supported = window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function';
  if (!supported) return;
  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    var button = form.querySelector('button');
    var status = form.querySelector('.passkey-status');
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      button.disabled = true;
      status.textContent = 'Waiting for your passkey…';
      var body = new URLSearchParams();
      ['handle', 'csrf', 'mfa_token'].forEach(function (name) {
        if (form.elements[name]) body.append(name, form.elements[name].value);
      });
      fetch('/oauth2/passkey/options', { method: 'POST', body: body, credentials: 'same-origin' })
        .then(function (response) {
          if (!response.ok) throw new Error('no challenge: ' + response.status);
          return response.json();
        })
        .then(function (started) {
          var publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(started.options.publicKey);
          return navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
            form.elements.ceremony_id.value = started.ceremony_id;
            form.elements.credential.value = JSON.stringify(credential.toJSON());
            form.submit();
          });
        })
        .catch(function () {
          status.textContent = 'No passkey answered. Try again, or use another way to log in.';
          button.disabled = false;
        });
    });
  });
})();
