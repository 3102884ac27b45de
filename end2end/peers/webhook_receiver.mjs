// A provisioning webhook receiver for the browser tests, on loopback: a slow cluster. It checks each delivery's
// signature as the README tells receivers to (HMAC-SHA256 of `TIMESTAMP.BODY`, compared in constant time, a
// timestamp at most 5 minutes old), refuses bad ones with 401, and answers good ones with 204 after a delay, so that
// a browser can watch a project being provisioned.
//
//   node webhook_receiver.mjs SECRET DELAY_MS
//
// Prints `READY <url>` once it listens; logs one line per delivery.
import http from 'node:http';
import crypto from 'node:crypto';

const [secret, delayText] = process.argv.slice(2);
if (!secret) throw new Error('usage: node webhook_receiver.mjs SECRET DELAY_MS');
const delay = Number(delayText || 3000);

function signed(headers, body) {
  const timestamp = headers['berth-timestamp'] || '';
  const given = Buffer.from(headers['berth-signature'] || '');
  const expected = Buffer.from(
    'v1=' + crypto.createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex'),
  );
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
  return fresh && given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks);
    const delivery = request.headers['berth-delivery'];
    if (request.method !== 'POST' || !signed(request.headers, body)) {
      console.log(`refused ${request.method} ${delivery}`);
      response.writeHead(401).end();
      return;
    }
    const { action, namespace } = JSON.parse(body.toString('utf8'));
    setTimeout(() => {
      console.log(`done ${delivery} ${action} ${namespace}`);
      response.writeHead(204).end();
    }, delay);
  });
});
server.listen(0, '127.0.0.1', () => console.log(`READY http://127.0.0.1:${server.address().port}/hook`));
