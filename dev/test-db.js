// Test databases of scripts/dev.sh test, run in the service container with the service's own
// pg and ioredis (NODE_PATH): the test role clones the template, drops what earlier runs left,
// and the Redis admin empties the tests' logical database.
//   node test-db.js create NAME | drop NAME | prune | flush-redis
'use strict';
const { Client } = require('pg');

const [command, name] = process.argv.slice(2);
const template = new URL(process.env.TEST_DATABASE_URL);
const templateName = template.pathname.slice(1);
const prefix = templateName.replace(/_template$/, '_');
const ident = (s) => `"${s.replace(/"/g, '""')}"`;

async function sql(fn) {
  // Connected to the postgres database, so the template has no session while it is cloned.
  const url = new URL(template);
  url.pathname = '/postgres';
  const db = new Client({ connectionString: url.toString() });
  await db.connect();
  try { return await fn(db); } finally { await db.end(); }
}

async function main() {
  if (command === 'create') {
    await sql((db) => db.query(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(templateName)}`));
  } else if (command === 'drop') {
    await sql((db) => db.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`));
  } else if (command === 'prune') {
    // Runs killed before their clean-up; a database still in use by a live run is left alone.
    await sql(async (db) => {
      const { rows } = await db.query(
        `SELECT datname FROM pg_database d WHERE datname LIKE $1 AND datname <> $2 AND NOT datistemplate
           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
        [`${prefix.replace(/_/g, '\\_')}%`, templateName]);
      for (const row of rows) {
        await db.query(`DROP DATABASE IF EXISTS ${ident(row.datname)}`).catch(() => undefined);
        console.log(`bb-dev: dropped ${row.datname}, left by an earlier run`);
      }
    });
  } else if (command === 'flush-redis') {
    const Redis = require('ioredis');
    const redis = new Redis(process.env.TEST_REDIS_ADMIN_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    await redis.flushdb();
    await redis.quit();
  } else {
    throw new Error('usage: test-db.js create NAME | drop NAME | prune | flush-redis');
  }
}

main().catch((err) => { console.error(`bb-dev: ${err.message}`); process.exit(1); });
