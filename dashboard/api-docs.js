// /docs while API_KEY is set: the page holds nothing of the API document. It asks for the key as
// the dashboard does (the same sessionStorage entry, so a key given to either serves both), fetches
// /docs-json with it, and only then starts Swagger UI on that document, with the key authorised for
// "Try it out".
const { SwaggerUIBundle } = window; // from /docs/swagger-ui-bundle.js, loaded before this module
const KEY_STORAGE = 'stephook.apiKey';
const $ = (id) => document.getElementById(id);
const say = (text) => ($('status').textContent = text);

function askForKey(refused) {
  sessionStorage.removeItem(KEY_STORAGE);
  $('key-form').hidden = false;
  $('key-error').textContent = refused ? 'That key was refused (401). Check it and try again.' : '';
  say('Waiting for the API key.');
  $('api-key').focus();
}

async function load() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key === null) return askForKey(false);
  say('Loading the API document…');
  const response = await fetch('/docs-json', {
    headers: { accept: 'application/json', authorization: `Bearer ${key}` },
  });
  if (response.status === 401) return askForKey(true);
  if (!response.ok) return say(`Could not load the API document: HTTP ${response.status}`);
  const spec = await response.json();
  $('key-form').hidden = true;
  say('');
  const ui = SwaggerUIBundle({
    spec,
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
  ui.preauthorizeApiKey('bearer', key);
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, $('api-key').value);
  $('api-key').value = '';
  $('key-form').hidden = true;
  load().catch((error) => say(`Could not load the API document: ${error.message}`));
});
load().catch((error) => say(`Could not load the API document: ${error.message}`));
