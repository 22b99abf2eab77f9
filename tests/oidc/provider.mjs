// A real OpenID provider for the tests: npm `oidc-provider` (OpenID-certified) with its
// development login form, where any login and password are accepted and the login becomes the
// subject (`sub`). Listens on 127.0.0.1 and prints one JSON line, {"issuer": "..."}, when ready.
//
// Clients: static ones from OIDC_CLIENTS (a JSON array of client metadata), plus open dynamic
// registration (POST {issuer}/reg), which the Rust tests use to register each test server's
// callback. OIDC_PORT picks the port (0: any free one). With OIDC_EXIT_WITH_STDIN=1 the provider
// exits when its standard input closes, so it never outlives the test process that started it.
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT || 0);
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');

const server = http.createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients,
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
    },
    // Every client must use PKCE, as the portal does (RFC 7636).
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          const email = id.includes('@') ? id : `${id}@idp.example`;
          return { sub: id, email, email_verified: true, name: `Test ${id}` };
        },
      };
    },
    cookies: { keys: ['test-only-cookie-key'] },
    // Short-lived test runs: keep the defaults' lifetimes but never ask for consent twice.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});

if (process.env.OIDC_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
