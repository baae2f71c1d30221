// The account page's "Add a passkey": the form stays hidden unless the browser has WebAuthn
// with JSON options. Its button asks guildhall for the options of a new passkey
// (`POST /account/passkeys/options` with the form's CSRF token), lets the browser's
// authenticator make it, and posts the result with the form; guildhall verifies it
// (webauthn-rs). Without JavaScript the rest of the page works as before.
(function () {
  'use strict';
  var supported = window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function';
  if (!supported) return;
  var form = document.querySelector('form[data-add-passkey]');
  if (!form) return;
  var button = form.querySelector('button');
  var status = form.querySelector('.passkey-status');
  form.hidden = false;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    button.disabled = true;
    status.textContent = 'Waiting for your authenticator…';
    var body = new URLSearchParams();
    body.append('csrf', form.elements.csrf.value);
    fetch('/account/passkeys/options', { method: 'POST', body: body, credentials: 'same-origin' })
      .then(function (response) {
        if (!response.ok) throw new Error('no options: ' + response.status);
        return response.json();
      })
      .then(function (started) {
        var publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(started.options.publicKey);
        return navigator.credentials.create({ publicKey: publicKey }).then(function (credential) {
          form.elements.ceremony_id.value = started.ceremony_id;
          form.elements.credential.value = JSON.stringify(credential.toJSON());
          form.submit();
        });
      })
      .catch(function () {
        status.textContent = 'No passkey was made. Try again.';
        button.disabled = false;
      });
  });
})();
