// A real OpenID Connect provider for Berth's tests: panva's certified `oidc-provider`, on loopback.
//
//   node oidc_provider.mjs '{"port": 0, "clients": [...], "users": {...}}'
//
// clients: [{ client_id, client_secret, redirect_uris }]; users: { username: { password, sub, email,
// email_verified, name } }. Prints `READY <issuer>` once it listens. Its login form is at /interaction/<uid>
// (fields `username`, `password`); consent is granted automatically.
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] || '{}');
const users = config.users || {};
const server = http.createServer();
await new Promise((resolve) => server.listen(config.port || 0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: (config.clients || []).map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  })),
  jwks: { keys: [jwk] },
  pkce: { required: () => true, methods: ['S256'] },
  features: { devInteractions: { enabled: false } },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  cookies: { keys: ['berth-test-provider'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, sub) => {
    const user = Object.values(users).find((candidate) => candidate.sub === sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      claims: async () => ({ sub, email: user.email, email_verified: !!user.email_verified, name: user.name }),
    };
  },
});

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const loginForm = (uid, error) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Test provider login</title></head>
<body><h1>Test provider</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="username">Username</label><input id="username" name="username" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password">
<button type="submit">Log in</button></form></body></html>`;

const readForm = (req) => new Promise((resolve, reject) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => resolve(new URLSearchParams(body)));
  req.on('error', reject);
});

const callback = provider.callback();
server.on('request', async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  const match = path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET' && !match[2]) {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      return res.end(loginForm(details.uid));
    }
    if (req.method === 'POST' && match[2]) {
      const form = await readForm(req);
      const user = users[form.get('username')];
      if (!user || user.password !== form.get('password')) {
        res.statusCode = 401;
        res.setHeader('content-type', 'text/html; charset=utf-8');
        return res.end(loginForm(details.uid, 'Wrong username or password.'));
      }
      const grant = new provider.Grant({ accountId: user.sub, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      return await provider.interactionFinished(req, res, { login: { accountId: user.sub }, consent: { grantId } }, {
        mergeWithLastSubmission: false,
      });
    }
    res.statusCode = 405;
    return res.end();
  } catch (error) {
    res.statusCode = 400;
    return res.end(`interaction failed: ${error.message}`);
  }
});

console.log(`READY ${issuer}`);
