#!/usr/bin/env node
// A local OpenID provider standing in for the Ministry of Justice's single
// sign-on, for cpor's tests and scripts/run-sample. It is panva's
// oidc-provider (OpenID Certified), configured with:
//
//   - one confidential web client (cpor-server: client secret, PKCE S256
//     required, code flow only) and one public native client (the app,
//     RFC 8252: loopback redirect, PKCE);
//   - a few users (USERS below) whose `sub` and `moj_account` are the
//     prosecutors' accounts in sample-data/*/{TPD,KSD}_prosecutor.csv, plus
//     one that matches nobody, one with another role and one with no role;
//   - its own login page: a plain form (username, password) that a person, a
//     headless browser or a test's HTTP client can fill in;
//   - admin endpoints under /admin/ that change the provider at run time, so
//     that tests can produce every failure a relying party must refuse:
//     signing-key rotation, a token signed by a key the JWKS does not
//     publish, a forged signature, a wrong issuer, a wrong audience, a
//     shifted clock (expired tokens).
//
// Usage:
//   node scripts/oidc-provider/provider.js [--host 127.0.0.1] [--port 0]
//        [--client-id cpor] [--client-secret cpor-sso-test-secret]
//        [--redirect-uri URL]... [--post-logout-redirect-uri URL]...
//        [--app-client-id cpor-app] [--id-token-claims] [--exit-with-stdin]
// Every option can also come from the environment: CPOR_OP_HOST,
// CPOR_OP_PORT, CPOR_OP_CLIENT_ID, CPOR_OP_CLIENT_SECRET,
// CPOR_OP_REDIRECT_URIS and CPOR_OP_POST_LOGOUT_REDIRECT_URIS (comma
// separated), CPOR_OP_APP_CLIENT_ID, CPOR_OP_ID_TOKEN_CLAIMS=1. Flags win.
// Port 0 picks a free port. When listening, one JSON line goes to stdout
// ({"issuer", "port", "client_id", "users", ...}); everything else goes to
// stderr. SIGTERM or SIGINT stops it.
//
// Admin endpoints (POST, loopback test use only; each answers JSON with the
// provider's state):
//   /admin/rotate?keep_old=1   a new signing key; the old one stays in the
//                              JWKS (keep_old=1, the default) or leaves it
//   /admin/sign-unpublished    sign with a new key the JWKS does not publish
//   /admin/sign-forged         sign with a new key that carries the kid of a
//                              published key (the signature cannot verify)
//   /admin/issuer?value=URL    call itself URL (discovery and tokens)
//   /admin/clock?offset=SECS   shift the provider's clock (-7200: every token
//                              it issues has expired an hour ago)
//   /admin/id-token?aud=X&...  overwrite these claims of every ID token the
//                              token endpoint returns (re-signed with the
//                              current key, so only the claims are wrong);
//                              a value that parses as JSON is JSON
//                              (exp=1700000000, aud=["a","b"])
//   /admin/client?redirect_uri=URL&post_logout_redirect_uri=URL
//                              the client's redirect URIs from now on (each
//                              may repeat; a test learns its server's port
//                              only once the server listens)
//   /admin/reset               undo sign-*, issuer, clock and id-token
//                              (keys that were rotated in, and the client's
//                              redirect URIs, stay)
//   GET /admin/state           the state, changing nothing

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

// The sample users. Every password is PASSWORD. The prosecutors' accounts
// are the ones the sample export names (sample-data/README.md): chen.wm and
// lin_yt-01 at TPD, tsai.mh and kuo_jl-02 at KSD.
export const PASSWORD = 'cpor-sso-2026';
export const USERS = [
  { username: 'chen.wm', role: 'prosecutor', email: 'chen.wm@moj.example', email_verified: true, name: '陳文明' },
  { username: 'lin_yt-01', role: 'prosecutor', email: 'lin.yt@moj.example', email_verified: true, name: '林雅婷' },
  { username: 'tsai.mh', role: 'prosecutor', email: 'tsai.mh@moj.example', email_verified: false, name: '蔡明宏' },
  { username: 'kuo_jl-02', role: 'prosecutor', email: 'kuo.jl@moj.example', email_verified: true, name: '郭家琳' },
  // A prosecutor the export knows nothing about.
  { username: 'nobody.x', role: 'prosecutor', email: 'nobody.x@moj.example', email_verified: true, name: '無案件' },
  // Not a prosecutor: another role, and no role at all. Their accounts are
  // real prosecutors' so only the role tells them apart.
  { username: 'clerk.wu', role: 'clerk', moj_account: 'chen.wm', email: 'clerk.wu@moj.example', email_verified: true, name: '吳書記官' },
  { username: 'guest.ho', moj_account: 'chen.wm', email: 'guest.ho@moj.example', email_verified: true, name: '何訪客' },
].map((u) => ({ sub: u.username, moj_account: u.username, ...u }));

const { values: args } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'app-client-id': { type: 'string' },
    'id-token-claims': { type: 'boolean' },
    'exit-with-stdin': { type: 'boolean' },
  },
});
const env = process.env;
const list = (s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);
const opts = {
  host: args.host ?? env.CPOR_OP_HOST ?? '127.0.0.1',
  port: Number(args.port ?? env.CPOR_OP_PORT ?? 0),
  clientId: args['client-id'] ?? env.CPOR_OP_CLIENT_ID ?? 'cpor',
  clientSecret: args['client-secret'] ?? env.CPOR_OP_CLIENT_SECRET ?? 'cpor-sso-test-secret',
  redirectUris: args['redirect-uri'] ?? list(env.CPOR_OP_REDIRECT_URIS)
    ?? ['http://127.0.0.1:8080/sso/callback', 'http://localhost:8080/sso/callback'],
  postLogoutRedirectUris: args['post-logout-redirect-uri'] ?? list(env.CPOR_OP_POST_LOGOUT_REDIRECT_URIS)
    ?? ['http://127.0.0.1:8080/', 'http://localhost:8080/'],
  appClientId: args['app-client-id'] ?? env.CPOR_OP_APP_CLIENT_ID ?? 'cpor-app',
  idTokenClaims: args['id-token-claims'] ?? env.CPOR_OP_ID_TOKEN_CLAIMS === '1',
};
if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
  console.error(`provider.js: --port ${opts.port} is not a port`);
  process.exit(2);
}
if (!/^(127\.|::1$|localhost$)/.test(opts.host)) {
  // Its admin endpoints let anyone forge tokens: loopback only.
  console.error(`provider.js: --host ${opts.host}: a test provider listens on loopback only`);
  process.exit(2);
}

// The clock: Date.now, shifted by /admin/clock. oidc-provider reads the time
// only through Date.now, so tokens, codes and sessions all shift together.
const realNow = Date.now.bind(Date);
let clockOffsetMs = 0;
Date.now = () => realNow() + clockOffsetMs;

// Keys. `signing` signs; `published` is what /jwks shows (public parts). They
// agree unless a test asks otherwise.
let keyCounter = 0;
function newKey(kid) {
  keyCounter += 1;
  // PEM out of the generator, then a key object of its own: exporting the
  // generator's own key object as JWK can deadlock Node 20 when a garbage
  // collection runs during the export (~KeyGenJob locks the key's mutex).
  const { privateKey: pem } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const jwk = crypto.createPrivateKey(pem).export({ format: 'jwk' });
  return { ...jwk, kid: kid ?? `cpor-test-${process.pid}-${keyCounter}`, alg: 'RS256', use: 'sig' };
}
const publicPart = ({ kty, n, e, kid, alg, use }) => ({ kty, n, e, kid, alg, use });

const state = {
  signing: newKey(),
  published: [],
  issuer: undefined,
  idTokenOverrides: {},
};
state.published = [publicPart(state.signing)];
const cookieKeys = [crypto.randomBytes(32).toString('hex')];

const userBySub = new Map(USERS.map((u) => [u.sub, u]));

function configuration() {
  return {
    clients: [
      {
        client_id: opts.clientId,
        client_secret: opts.clientSecret,
        redirect_uris: opts.redirectUris,
        post_logout_redirect_uris: opts.postLogoutRedirectUris,
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      },
      {
        client_id: opts.appClientId,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback'],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        id_token_signed_response_alg: 'RS256',
      },
    ],
    // PKCE for every client, confidential ones too (S256 is the only method
    // oidc-provider accepts).
    pkce: { required: () => true },
    jwks: { keys: [state.signing] },
    cookies: { keys: cookieKeys },
    scopes: ['openid', 'email', 'profile', 'moj'],
    claims: {
      email: ['email', 'email_verified'],
      profile: ['name'],
      // The MOJ account and the role: what cpor's [sso] account_claim and
      // required_claims read.
      moj: ['moj_account', 'role'],
    },
    // By default claims asked for by scope go to the userinfo endpoint only
    // (the ID token carries `sub`); --id-token-claims puts them in the ID
    // token as well, as many providers do.
    conformIdTokenClaims: !opts.idTokenClaims,
    async findAccount(ctx, sub) {
      const user = userBySub.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          const { username, ...claims } = user;
          return claims;
        },
      };
    },
    // First-party clients: every requested scope and claim is granted
    // without a consent screen (oidc-provider's "skip consent" recipe).
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) {
        const existing = await ctx.oidc.provider.Grant.find(grantId);
        if (existing) return existing;
      }
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid');
      const requested = ctx.oidc.claims ?? {};
      const names = new Set([
        ...Object.keys(requested.id_token ?? {}),
        ...Object.keys(requested.userinfo ?? {}),
      ]);
      if (names.size) grant.addOIDCClaims([...names]);
      await grant.save();
      return grant;
    },
    interactions: {
      url(ctx, interaction) {
        return `/interaction/${interaction.uid}`;
      },
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.body = page('登出', `<p>要登出測試用身分提供者嗎？</p>${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">登出</button>
<button type="submit" form="op.logoutForm">取消</button>`);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = page('已登出', '<p>已登出測試用身分提供者。</p>');
        },
      },
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('錯誤', `<pre>${escape(JSON.stringify(out, null, 2))}</pre>`);
    },
  };
}

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// No external fonts or scripts: a headless browser on a closed network
// loads everything from here.
function page(title, body) {
  return `<!DOCTYPE html>
<html lang="zh-Hant"><head><meta charset="utf-8"><title>${escape(title)}（測試用身分提供者）</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>${escape(title)}</h1><p><small>法務部單一登入的本機替身，僅供測試。</small></p>
${body}</body></html>`;
}

function loginForm(uid, { username = '', error } = {}) {
  return page('登入', `${error ? `<p id="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}" id="login">
<label>帳號 <input type="text" name="username" id="username" value="${escape(username)}" autocomplete="username" required autofocus></label>
<label>密碼 <input type="password" name="password" id="password" autocomplete="current-password" required></label>
<button type="submit" id="submit">登入</button>
</form>
<p><a href="/interaction/${escape(uid)}/abort" id="abort">取消</a></p>`);
}

// One Provider at a time; a key, issuer or override change builds a new
// one. Their memory adapter's storage is module-wide, so sessions, codes and
// interactions survive the swap.
let provider;
let handler;

function base64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

function resign(jwt, overrides) {
  const [h, p] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const payload = { ...JSON.parse(Buffer.from(p, 'base64url')), ...overrides };
  const data = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const key = crypto.createPrivateKey({ key: state.signing, format: 'jwk' });
  return `${data}.${base64url(crypto.sign('sha256', Buffer.from(data), key))}`;
}

function build() {
  const p = new Provider(state.issuer, configuration());
  p.proxy = false;
  p.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/jwks' && ctx.status === 200) {
      ctx.body = { keys: state.published };
    }
    if (ctx.path === '/token' && ctx.body && typeof ctx.body === 'object' && ctx.body.id_token
        && Object.keys(state.idTokenOverrides).length) {
      ctx.body = { ...ctx.body, id_token: resign(ctx.body.id_token, state.idTokenOverrides) };
    }
  });
  p.on('server_error', (ctx, err) => console.error('provider.js: server error', err));
  provider = p;
  handler = p.callback();
}

function describe() {
  return {
    issuer: state.issuer,
    redirect_uris: opts.redirectUris,
    post_logout_redirect_uris: opts.postLogoutRedirectUris,
    signing_kid: state.signing.kid,
    published_kids: state.published.map((k) => k.kid),
    clock_offset_seconds: clockOffsetMs / 1000,
    id_token_overrides: state.idTokenOverrides,
  };
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 16384) throw new Error('body too large');
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

let normalIssuer;

async function admin(req, res, url) {
  const q = url.searchParams;
  const op = url.pathname.slice('/admin/'.length);
  if (req.method === 'GET' && op === 'state') {
    return send(res, 200, 'application/json', JSON.stringify(describe()));
  }
  if (req.method !== 'POST') return send(res, 405, 'text/plain', 'POST\n');
  switch (op) {
    case 'rotate': {
      const old = state.published;
      state.signing = newKey();
      state.published = [publicPart(state.signing), ...(q.get('keep_old') === '0' ? [] : old)];
      break;
    }
    case 'sign-unpublished':
      state.signing = newKey();
      break;
    case 'sign-forged':
      state.signing = newKey(state.published[0].kid);
      break;
    case 'issuer':
      state.issuer = q.get('value') || normalIssuer;
      break;
    case 'client': {
      const redirect = q.getAll('redirect_uri');
      const postLogout = q.getAll('post_logout_redirect_uri');
      if (!redirect.length) return send(res, 400, 'text/plain', 'redirect_uri is needed\n');
      opts.redirectUris = redirect;
      if (postLogout.length) opts.postLogoutRedirectUris = postLogout;
      break;
    }
    case 'clock':
      clockOffsetMs = Number(q.get('offset') ?? 0) * 1000;
      break;
    case 'id-token':
      // A value that parses as JSON is taken as JSON (aud=["a","b"]).
      state.idTokenOverrides = Object.fromEntries([...q.entries()].map(([k, v]) => {
        try { return [k, JSON.parse(v)]; } catch { return [k, v]; }
      }));
      break;
    case 'reset': {
      const published = new Set(state.published.map((k) => JSON.stringify(k)));
      if (!published.has(JSON.stringify(publicPart(state.signing)))) {
        // The signing key is not the published one: make it so again.
        state.signing = newKey();
        state.published = [publicPart(state.signing), ...state.published];
      }
      state.issuer = normalIssuer;
      clockOffsetMs = 0;
      state.idTokenOverrides = {};
      break;
    }
    default:
      return send(res, 404, 'text/plain', `no admin operation ${op}\n`);
  }
  build();
  console.error(`provider.js: admin ${op}: ${JSON.stringify(describe())}`);
  return send(res, 200, 'application/json', JSON.stringify(describe()));
}

async function interaction(req, res, url) {
  const [, , uid, action] = url.pathname.split('/');
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (e) {
    return send(res, 400, 'text/html; charset=utf-8', page('錯誤', `<p>登入流程已失效，請回到原網站重新登入。</p><pre>${escape(e.message)}</pre>`));
  }
  if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction mismatch\n');
  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  if (details.prompt.name === 'consent') {
    // loadExistingGrant grants web clients everything; oidc-provider still
    // asks a native client's user to consent every time (the client cannot
    // prove who it is). The test provider consents for them.
    const { prompt: { details: missing }, grantId, session, params } = details;
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, {
      mergeWithLastSubmission: true,
    });
  }
  if (details.prompt.name !== 'login') {
    return send(res, 501, 'text/plain', `prompt ${details.prompt.name} not handled\n`);
  }
  if (req.method === 'GET') {
    return send(res, 200, 'text/html; charset=utf-8', loginForm(uid, { username: details.params.login_hint ?? '' }));
  }
  if (req.method !== 'POST') return send(res, 405, 'text/plain', 'GET or POST\n');
  const body = await readBody(req);
  const username = body.get('username') ?? '';
  const user = USERS.find((u) => u.username === username);
  const ok = user && crypto.timingSafeEqual(
    crypto.hash('sha256', body.get('password') ?? '', 'buffer'),
    crypto.hash('sha256', PASSWORD, 'buffer'),
  );
  if (!ok) {
    return send(res, 200, 'text/html; charset=utf-8', loginForm(uid, { username, error: '帳號或密碼錯誤' }));
  }
  return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    if (url.pathname.startsWith('/admin/')) return await admin(req, res, url);
    if (url.pathname.startsWith('/interaction/')) return await interaction(req, res, url);
    return handler(req, res);
  } catch (e) {
    console.error('provider.js:', e);
    if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
    else res.end();
  }
});

server.listen(opts.port, opts.host, () => {
  const { port } = server.address();
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  normalIssuer = `http://${host}:${port}`;
  state.issuer = normalIssuer;
  build();
  const ready = {
    issuer: state.issuer,
    port,
    client_id: opts.clientId,
    client_secret: opts.clientSecret,
    redirect_uris: opts.redirectUris,
    app_client_id: opts.appClientId,
    password: PASSWORD,
    users: USERS.map(({ username, sub, moj_account, role }) => ({ username, sub, moj_account, role })),
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  console.error(`provider.js: OpenID provider ${state.issuer} (client ${opts.clientId}); users ${USERS.map((u) => u.username).join(', ')}; password ${PASSWORD}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
if (args['exit-with-stdin']) {
  // The test that started this process holds its stdin: when the test ends
  // (or dies), stdin closes and the provider does not outlive it.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
