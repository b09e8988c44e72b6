module.exports = {
  apps: [{
    name: 'hello',
    script: 'app.js',
    exec_mode: 'cluster',
    instances: 2,
    wait_ready: true,
    listen_timeout: 8000,
    kill_timeout: 5000,
  }],
};
