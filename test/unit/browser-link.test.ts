/**
 * The browser link movie-share prints: only for a URL whose page is a secure
 * context (https, or http on the browser's own machine), as `ORIGIN/#CODE`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { browserLink, isSecureContextUrl } from '../../peer/cli/browser-link.js';

const CODE = 'k7pqp-apple-river-violin';

test('secure contexts: https (and wss), and http on localhost, 127.x.x.x or [::1]', () => {
  for (const url of [
    'https://signal.example.org',
    'https://192.0.2.2:8443/',
    'wss://signal.example.org',
    'http://localhost:8080',
    'HTTP://LOCALHOST:8080',
    'http://127.0.0.1:8080',
    'http://127.1.2.3',
    'http://[::1]:8080',
    'ws://127.0.0.1:9',
  ]) {
    assert.equal(isSecureContextUrl(url), true, url);
  }
  for (const url of [
    'http://192.0.2.2:8080',
    'http://signal.example.org',
    'http://[fd00::2]:8080',
    'http://localhost.example.org',
    'http://128.0.0.1',
    'ftp://localhost',
    'not a url',
  ]) {
    assert.equal(isSecureContextUrl(url), false, url);
  }
});

test('the link is the origin, no trailing slash, the code only after #', () => {
  assert.equal(browserLink('http://127.0.0.1:41000', CODE), `http://127.0.0.1:41000/#${CODE}`);
  assert.equal(browserLink('http://127.0.0.1:41000/', CODE), `http://127.0.0.1:41000/#${CODE}`);
  assert.equal(browserLink('https://signal.example.org:443/some/path?x=1', CODE), `https://signal.example.org/#${CODE}`);
  assert.equal(browserLink('wss://signal.example.org', CODE), `https://signal.example.org/#${CODE}`);
  assert.equal(browserLink('ws://localhost:8080', CODE), `http://localhost:8080/#${CODE}`);
  assert.equal(browserLink('http://192.0.2.2:8080', CODE), undefined);
});
