// Requests the app from CHAINS loops at once, each sending one request at a time on a new
// connection (as a proxy without keep-alive does), until the stop file appears or the time is up,
// then writes what it saw: answers, failures (with their errors) and how many answers came from
// each set of node arguments.
// Usage: node hammer.js STOP_FILE RESULT_FILE MAX_SECONDS [CHAINS]
const fs = require('fs');
const http = require('http');
const [stopFile, resultFile, maxSeconds, chains = '4'] = process.argv.slice(2);
const started = Date.now();
const seen = { ok: 0, failed: 0, errors: [], execArgv: {} };
let running = Number(chains);

function next() {
  setTimeout(once, 20);
}

function fail(message) {
  seen.failed += 1;
  if (seen.errors.length < 20) seen.errors.push(`${new Date().toISOString()} ${message}`);
  next();
}

function once() {
  if (fs.existsSync(stopFile) || Date.now() - started > maxSeconds * 1000) {
    running -= 1;
    if (running === 0) fs.writeFileSync(resultFile, JSON.stringify(seen));
    return;
  }
  let done = false;
  const finish = (fn) => (...args) => { if (!done) { done = true; fn(...args); } };
  const req = http.get({ host: '127.0.0.1', port: 3998, path: '/', agent: false, timeout: 5000 }, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => { text += chunk; });
    res.on('end', finish(() => {
      try {
        const answer = JSON.parse(text);
        if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
        const key = JSON.stringify(answer.execArgv);
        seen.execArgv[key] = (seen.execArgv[key] || 0) + 1;
        seen.ok += 1;
        next();
      } catch (err) {
        fail(`bad answer: ${err.message}: ${text.slice(0, 100)}`);
      }
    }));
  });
  req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
  req.on('error', finish((err) => fail(err.message)));
}

for (let i = 0; i < running; i += 1) once();
