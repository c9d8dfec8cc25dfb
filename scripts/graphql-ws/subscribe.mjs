// Subscribes with the npm graphql-ws client (protocol graphql-transport-ws)
// and prints one JSON line per thing that happens: {"connected":true}, then
// {"next":<result>} per event until COUNT events, or {"error":<code>}.
// Env: WS_URL, QUERY, VARIABLES (JSON), TOKEN (optional), COUNT (default 1).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const count = Number(process.env.COUNT || 1);
const token = process.env.TOKEN;
const client = createClient({
  url: process.env.WS_URL,
  webSocketImpl: WebSocket,
  connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
  retryAttempts: 0,
  on: { connected: () => out({ connected: true }) },
});
let seen = 0;
client.subscribe(
  { query: process.env.QUERY, variables: JSON.parse(process.env.VARIABLES || '{}') },
  {
    next: (result) => {
      out({ next: result });
      if (++seen >= count) {
        client.dispose();
        process.exit(0);
      }
    },
    error: (err) => {
      out({ error: err && err.code !== undefined ? err.code : String(err) });
      process.exit(0);
    },
    complete: () => {
      out({ complete: true });
      process.exit(0);
    },
  },
);
setTimeout(() => {
  out({ error: 'timeout' });
  process.exit(1);
}, Number(process.env.TIMEOUT_MS || 30000));
