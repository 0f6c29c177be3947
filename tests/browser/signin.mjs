#!/usr/bin/env node
// Headless-Chromium sign-in driver for Tessera's Rust integration tests.
//
// Drives a real browser through the server's login (and consent) pages and
// reports where the server finally redirected to. See README.md beside this
// file for the interface; in short, all input comes from the environment:
//
//   AUTHORIZE_URL  full /oauth2/authorize?... URL to open              (required)
//   REDIRECT_URI   client redirect URI prefix; the flow ends when the
//                  browser navigates to a URL starting with it        (required unless MODE=login-only)
//   USERNAME       username to type                                   (required, may be empty)
//   PASSWORD       password to type                                   (required, may be empty)
//   CONSENT        "allow" (default) or "deny"
//   MODE           unset/"signin" (default) or "login-only"
//   SCREENSHOT_DIR if set, screenshots are saved there
//   TIMEOUT_MS     overall time limit in ms (default 20000)
//
// Success: exactly one line of JSON on stdout, exit 0.
// Failure: diagnostics and a final "signin: error: ..." line on stderr, exit 1.

import { chromium } from 'playwright-core';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const TEXT_LIMIT = 2000;

class UsageError extends Error {}

function readConfig(env) {
  const need = (name) => {
    const v = env[name];
    if (v === undefined) throw new UsageError(`environment variable ${name} is required`);
    return v;
  };
  const mode = env.MODE === undefined || env.MODE === '' ? 'signin' : env.MODE;
  if (mode !== 'signin' && mode !== 'login-only') {
    throw new UsageError(`MODE must be "login-only" or unset, got ${JSON.stringify(mode)}`);
  }
  const authorizeUrl = need('AUTHORIZE_URL');
  let origin;
  try {
    origin = new URL(authorizeUrl).origin;
  } catch {
    throw new UsageError(`AUTHORIZE_URL is not a valid URL: ${JSON.stringify(authorizeUrl)}`);
  }
  const redirectUri = mode === 'signin' ? need('REDIRECT_URI') : (env.REDIRECT_URI ?? '');
  if (mode === 'signin' && redirectUri === '') throw new UsageError('REDIRECT_URI must not be empty');
  const consent = (env.CONSENT ?? '') === '' ? 'allow' : env.CONSENT;
  if (consent !== 'allow' && consent !== 'deny') {
    throw new UsageError(`CONSENT must be "allow" or "deny", got ${JSON.stringify(consent)}`);
  }
  const timeoutText = env.TIMEOUT_MS ?? '';
  const timeoutMs = timeoutText === '' ? 20000 : Number(timeoutText);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new UsageError(`TIMEOUT_MS must be a positive integer, got ${JSON.stringify(timeoutText)}`);
  }
  return {
    mode,
    authorizeUrl,
    origin,
    redirectUri,
    username: need('USERNAME'),
    password: need('PASSWORD'),
    consent,
    screenshotDir: env.SCREENSHOT_DIR || null,
    timeoutMs,
  };
}

// A promise that never settles: used for race branches that have nothing to report.
const never = () => new Promise(() => {});

// What the script is doing, for the message when time runs out.
let stage = 'starting';

async function visibleText(page) {
  const text = await page.locator('body').innerText({ timeout: 1000 });
  return text.slice(0, TEXT_LIMIT);
}

async function screenshot(page, cfg, name) {
  if (!cfg.screenshotDir) return;
  await mkdir(cfg.screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(cfg.screenshotDir, name), fullPage: true });
}

// Resolves once the main frame has committed a new document and that document has loaded.
function nextMainFrameLoad(page) {
  return page
    .waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: 0 })
    .then(() => page.waitForLoadState('load'));
}

async function fillLogin(page, cfg) {
  stage = 'opening AUTHORIZE_URL';
  await page.goto(cfg.authorizeUrl, { waitUntil: 'load' });
  await screenshot(page, cfg, 'login.png');
  stage = 'filling the login form (labels "Username" and "Password")';
  await page.getByLabel('Username').fill(cfg.username);
  await page.getByLabel('Password').fill(cfg.password);
  const loaded = nextMainFrameLoad(page);
  loaded.catch(() => {}); // settled by the caller when needed; avoid an unhandled rejection
  stage = 'clicking the "Sign in" button';
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Wrapped: an async function returning the bare promise would wait for it.
  return { loaded };
}

async function loginOnly(page, cfg) {
  const { loaded } = await fillLogin(page, cfg);
  stage = 'waiting for the page after the login form';
  await loaded;
  await screenshot(page, cfg, 'login-result.png');
  return { url: page.url(), text: await visibleText(page) };
}

async function signin(page, context, cfg, redirected) {
  const { loaded } = await fillLogin(page, cfg);

  // After submitting: either the server redirects to the client (consent
  // remembered), or renders the consent page, or (wrong credentials) renders
  // the login page again. The last one fails fast instead of timing out.
  const allow = page.getByRole('button', { name: 'Allow' });
  const deny = page.getByRole('button', { name: 'Deny' });
  const swallow = (p) => p.catch(never);
  stage = 'waiting for the consent page or the redirect after the login form';
  const outcome = await Promise.race([
    redirected.then(() => 'redirect'),
    swallow(allow.or(deny).first().waitFor({ state: 'visible', timeout: 0 })).then(() => 'consent'),
    swallow(loaded).then(async () => {
      if (await page.locator('input[type="password"]').count().catch(() => 0)) return 'login-again';
      return never();
    }),
  ]);

  let consentShown = false;
  if (outcome === 'login-again') {
    throw new Error('still on the login page after submitting the credentials (wrong password?)');
  }
  if (outcome === 'consent') {
    consentShown = true;
    await screenshot(page, cfg, 'consent.png');
    stage = `clicking the "${cfg.consent === 'allow' ? 'Allow' : 'Deny'}" button`;
    await (cfg.consent === 'allow' ? allow : deny).click();
    stage = 'waiting for the redirect to REDIRECT_URI after the consent page';
  }
  const redirect = await redirected;
  stage = 'reading cookies';

  const cookies = (await context.cookies(cfg.origin)).map((c) => ({
    name: c.name,
    httpOnly: c.httpOnly,
    secure: c.secure,
    sameSite: c.sameSite,
  }));
  return { redirect, consentShown, cookies };
}

// Answers every request for a URL starting with `prefix` with 200 text/plain "ok"
// and reports the URL of the first document (navigation) request to `onNavigation`.
//
// This uses the DevTools Fetch domain directly rather than page.route()/context.route():
// Playwright always lets a redirect hop through to the network ("the handler will only be
// called for the first url if the response is a redirect"), and the server reaches the
// redirect URI by a 303, so a route would never see it. Fetch pauses redirect hops too, and
// also those to ports Chromium refuses to connect to (such as 9), before that check.
async function answerRedirectUri(context, page, prefix, onNavigation) {
  const cdp = await context.newCDPSession(page);
  const escaped = prefix.replace(/[\\*?]/g, (c) => `\\${c}`);
  cdp.on('Fetch.requestPaused', (event) => {
    const reply = event.request.url.startsWith(prefix)
      ? cdp.send('Fetch.fulfillRequest', {
          requestId: event.requestId,
          responseCode: 200,
          responseHeaders: [{ name: 'Content-Type', value: 'text/plain; charset=utf-8' }],
          body: Buffer.from('ok').toString('base64'),
        })
      : cdp.send('Fetch.continueRequest', { requestId: event.requestId });
    reply.catch(() => {}); // the browser may be closing
    if (event.resourceType === 'Document' && event.request.url.startsWith(prefix)) {
      onNavigation(event.request.url);
    }
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: `${escaped}*`, requestStage: 'Request' }] });
  // Belt and braces: Playwright's own request events see redirect hops as well.
  context.on('request', (request) => {
    if (request.isNavigationRequest() && request.url().startsWith(prefix)) onNavigation(request.url());
  });
}

async function main() {
  let cfg;
  try {
    cfg = readConfig(process.env);
  } catch (e) {
    process.stderr.write(`signin: error: ${e.message}\n`);
    return 1;
  }

  const userDataDir = await mkdtemp(path.join(tmpdir(), 'tessera-signin-'));
  let launching = null;
  let context = null;
  let page = null;
  let timer = null;
  try {
    const timedOut = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out after ${cfg.timeoutMs} ms while ${stage}`)),
        cfg.timeoutMs,
      );
    });
    const run = async () => {
      stage = 'launching Chromium';
      launching = chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: cfg.timeoutMs,
      });
      context = await launching;
      context.setDefaultTimeout(cfg.timeoutMs);
      context.setDefaultNavigationTimeout(cfg.timeoutMs);

      page = context.pages()[0] ?? (await context.newPage());

      // The client's redirect URI is answered here, so no real server is needed there.
      let resolveRedirect;
      const redirected = new Promise((resolve) => {
        resolveRedirect = resolve;
      });
      if (cfg.redirectUri !== '') await answerRedirectUri(context, page, cfg.redirectUri, resolveRedirect);

      if (cfg.mode === 'login-only') return loginOnly(page, cfg);
      return signin(page, context, cfg, redirected);
    };
    const running = run();
    running.catch(() => {}); // after a timeout it fails again when the browser closes
    const result = await Promise.race([running, timedOut]);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (e) {
    if (page) {
      let url = '(unknown)';
      let text = '(unavailable)';
      try {
        url = page.url();
        text = await visibleText(page);
      } catch {
        // keep the placeholders
      }
      process.stderr.write(`signin: current url: ${url}\n`);
      process.stderr.write(`signin: page text: ${JSON.stringify(text)}\n`);
    }
    const message = String(e?.message ?? e).split('\n')[0];
    process.stderr.write(`signin: error: ${message}\n`);
    return 1;
  } finally {
    clearTimeout(timer);
    // If the time ran out while Chromium was still starting, wait for the launch to settle
    // (it has its own timeout) so that the browser is closed rather than orphaned.
    if (!context && launching) context = await launching.catch(() => null);
    if (context) await withTimeout(context.close(), 5000).catch(() => {});
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  }
}

function withTimeout(promise, ms) {
  let t;
  const expired = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(t));
}

const code = await main();
// Never hang the caller: should anything still hold the event loop open, exit anyway.
process.exitCode = code;
setTimeout(() => process.exit(code), 10000).unref();
