// GraphiQL with the explorer plugin, configured by the server through the
// #playground-config element (endpoint, default request headers).
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import { createElement, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { explorerPlugin } from '@graphiql/plugin-explorer';

const config = JSON.parse(document.getElementById('playground-config').textContent || '{}');
const endpoint = new URL(config.endpoint || '/graphql', window.location.href);
const wsEndpoint = new URL(endpoint);
wsEndpoint.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

const fetcher = createGraphiQLFetcher({
  url: endpoint.href,
  // The headers editor's values also become the websocket's connection
  // parameters, so the same Authorization works for subscriptions.
  subscriptionUrl: wsEndpoint.href,
  enableIncrementalDelivery: false,
});

// ?query=...&variables=... open a tab with that operation (links from docs).
const params = new URLSearchParams(window.location.search);
const headers = config.headers && Object.keys(config.headers).length > 0
  ? JSON.stringify(config.headers, null, 2)
  : undefined;

const defaultQuery = `# Hero Tasks GraphQL API. Run with Ctrl-Enter; open the explorer on the left
# to build a query by clicking fields.
query RecentTasks {
  tasks(first: 5) {
    totalCount
    nodes { number title status priority phase tags { name } }
  }
}
`;

createRoot(document.getElementById('graphiql')).render(
  createElement(StrictMode, null,
    createElement(GraphiQL, {
      fetcher,
      plugins: [explorerPlugin()],
      defaultQuery,
      initialQuery: params.get('query') || undefined,
      initialVariables: params.get('variables') || undefined,
      // The server's default headers (the development token) win over
      // what an earlier session left in localStorage.
      initialHeaders: headers,
      defaultHeaders: headers,
      defaultEditorToolsVisibility: headers ? 'headers' : undefined,
      shouldPersistHeaders: false,
    })));
