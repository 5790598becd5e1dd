// The lab system's service: answers /health with a fixed status and the system's label.
import { createServer } from 'node:http';
import { renameSync, writeFileSync } from 'node:fs';

const status = @status@;
const label = '@label@';
const server = createServer((request, response) => {
  if (request.url === '/health') {
    response.writeHead(status, { 'content-type': 'text/plain' });
    response.end(label);
  } else {
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found');
  }
});
process.on('SIGTERM', () => process.exit(0));
server.listen(@port@, '0.0.0.0', () => {
  // Readiness, like sd_notify: switch-to-configuration waits for this file.
  writeFileSync('/run/lab/service.ready.tmp', `${process.pid}\n`);
  renameSync('/run/lab/service.ready.tmp', '/run/lab/service.ready');
});
