// A tiny clustered HTTP service: says which release it runs, tells PM2 when ready, and
// finishes in-flight requests on SIGINT.
const http = require('http');
const path = require('path');
const release = path.basename(process.cwd());
const server = http.createServer((req, res) => res.end(JSON.stringify({ release, pid: process.pid }) + '\n'));
server.listen(3998, '127.0.0.1', () => { if (process.send) process.send('ready'); });
process.on('SIGINT', () => server.close(() => process.exit(0)));
