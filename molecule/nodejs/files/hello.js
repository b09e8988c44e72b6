// A tiny HTTP service for the PM2 boot test.
const http = require('http');
http.createServer((req, res) => res.end('hello\n')).listen(3999, '127.0.0.1', () => {
  if (process.send) process.send('ready');
});
