// Subscribes with the npm graphql-ws client to the first of WS_URLS and,
// each time the connection is lost, subscribes again to the next one with
// `after` set to the cursor of the last event received: the resumption a
// browser does when its server instance goes away. Prints one JSON line per
// thing that happens: {"connected":<url index>}, {"next":<result>} per event
// until COUNT events, {"lost":<url index>}, or {"error":...}.
// Env: WS_URLS (comma-separated), QUERY (taking $after: String and
// selecting `cursor` on the root field), FIELD (the root field's name),
// VARIABLES (JSON), TOKEN (optional), COUNT.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const urls = process.env.WS_URLS.split(',');
const count = Number(process.env.COUNT || 1);
const field = process.env.FIELD;
const token = process.env.TOKEN;
let seen = 0;
let after = null;

function connect(i) {
  if (i >= urls.length) {
    out({ error: 'no instance left' });
    process.exit(1);
  }
  let lost = false;
  const client = createClient({
    url: urls[i],
    webSocketImpl: WebSocket,
    connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    on: {
      connected: () => out({ connected: i }),
      closed: () => {
        if (!lost && seen < count) {
          lost = true;
          out({ lost: i });
          connect(i + 1);
        }
      },
    },
  });
  client.subscribe(
    { query: process.env.QUERY, variables: { ...JSON.parse(process.env.VARIABLES || '{}'), after } },
    {
      next: (result) => {
        out({ next: result });
        const c = result.data && result.data[field] && result.data[field].cursor;
        if (c) after = c;
        if (++seen >= count) {
          client.dispose();
          process.exit(0);
        }
      },
      error: (err) => {
        if (err && err.code !== undefined && !lost) return; // a close: handled by on.closed
        if (!lost) out({ error: err && err.message ? err.message : JSON.stringify(err) });
      },
      complete: () => {},
    },
  );
}
connect(0);
setTimeout(() => {
  out({ error: 'timeout' });
  process.exit(1);
}, Number(process.env.TIMEOUT_MS || 60000));
