// Runs graphql-http's serverAudits against the URL in argv[2] and prints one
// line per audit. Exit status 1 on any warning or failure.
'use strict';
const path = require('path');
const { serverAudits } = require(path.join(process.env.HT_NPM_DIR, 'node_modules', 'graphql-http'));

(async () => {
  const url = process.argv[2];
  const counts = { ok: 0, warn: 0, error: 0 };
  for (const audit of serverAudits({ url })) {
    const r = await audit.fn();
    counts[r.status]++;
    let line = `${r.status.toUpperCase().padEnd(5)} ${r.id} ${r.name}`;
    if (r.status !== 'ok') {
      let body = '';
      try { body = await r.response.text(); } catch (e) { /* already read */ }
      line += `\n      ${r.reason}\n      status ${r.response.status} content-type ${r.response.headers.get('content-type')} body ${body.slice(0, 300)}`;
    }
    console.log(line);
  }
  console.log(`graphql-http serverAudits: ${counts.ok} ok, ${counts.warn} warnings, ${counts.error} failures`);
  process.exit(counts.warn + counts.error === 0 ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(2); });
