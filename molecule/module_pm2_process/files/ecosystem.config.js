// node_args depends on the environment the pm2 command runs with (the module's env option): no
// node arguments unless a task sets HELLO_PROFILE=small-heap. (env values are secrets to the
// module, masked wherever they appear in its result, so the value itself is not a node argument.)
const profiles = { 'small-heap': '--max-old-space-size=200' };
module.exports = {
  apps: [{
    name: 'hello',
    script: 'app.js',
    exec_mode: 'cluster',
    instances: 2,
    node_args: profiles[process.env.HELLO_PROFILE] || '',
    max_memory_restart: '300M',
    wait_ready: true,
    listen_timeout: 8000,
    kill_timeout: 5000,
    // A crash loop must end in 'errored' however slowly node starts on a busy machine: an exit
    // within 10 s counts as unstable (PM2's default of 1 s let a slow crash loop run for ever),
    // and PM2 gives up after 5 of them.
    min_uptime: 10000,
    max_restarts: 5,
  }],
};
