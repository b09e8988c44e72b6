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
process.on('SIGINT', () => server.close(() => process.exit(0)));
