// Starts kinesalite (in memory) on 127.0.0.1 only: its own CLI binds every
// interface. Usage: node scripts/kinesalite.js PORT NODE_MODULES_DIR
const path = require('path');
const port = parseInt(process.argv[2], 10);
const kinesalite = require(path.join(process.argv[3], 'kinesalite'));
const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
server.listen(port, '127.0.0.1', (err) => {
  if (err) { console.error(err); process.exit(1); }
  console.log(`kinesalite listening on 127.0.0.1:${port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
