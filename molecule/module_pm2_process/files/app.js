// A tiny clustered HTTP service: says which release it runs (and with which node arguments),
// tells PM2 when ready, and finishes in-flight requests on SIGINT. While /srv/pm2test/crash
// exists it dies at start, as a release that cannot reach its database would.
const fs = require('fs');
const http = require('http');
const path = require('path');
if (fs.existsSync('/srv/pm2test/crash')) {
  fs.writeSync(2, 'crash flag set: exiting\n');
  process.exit(1);
}
const release = path.basename(process.cwd());
const body = () => JSON.stringify({ release, pid: process.pid, execArgv: process.execArgv }) + '\n';
const server = http.createServer((req, res) => res.end(body()));
server.listen(3998, '127.0.0.1', () => { if (process.send) process.send('ready'); });
// Exit once the server closed and a second has passed: PM2's cluster master may still hand this
// worker a connection over IPC, and only a running worker gives it back (to another worker).
process.on('SIGINT', () => {
  const closed = new Promise((resolve) => server.close(resolve));
  const drained = new Promise((resolve) => setTimeout(resolve, 1000));
  Promise.all([closed, drained]).then(() => process.exit(0));
});
