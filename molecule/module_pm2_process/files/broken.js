// Crashes at once: PM2 never sees it online. (writeSync: a dying cluster worker loses async stderr.)
require('fs').writeSync(2, 'broken on purpose: cannot connect to the database\n');
process.exit(1);
