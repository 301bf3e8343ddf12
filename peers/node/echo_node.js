// echo_node — a framed echo server as a Node.js programmer writes it: `net`, 4-byte big-endian
// length prefix (Erlang {packet,4}), socket.setTimeout() for the idle timeout (Node's docs: the
// 'timeout' event only notifies; the handler ends the socket). Not written for framespec: a peer
// to judge.  Run: node peers/node/echo_node.js PORT [IDLE_SECONDS] [--fixed]
// --fixed applies what peers/node/README.md says a user should change: pause() when write()
// returns false and resume() on 'drain'; destroy() (not end()) on the idle timeout; on SIGTERM
// (process.on) server.close(), end() every socket (FIN after its queued writes), discard what
// still arrives, and let the process exit when the last socket closes (a GRACE timer destroys
// those whose peer never sends its FIN).
'use strict';
const net = require('net');
const port = parseInt(process.argv[2], 10);
const MAX = 16 * 1024 * 1024;
const FIXED = process.argv.includes('--fixed');
const IDLE = process.argv.slice(3).filter((a) => a !== '--fixed').map(Number)[0] || 0;
const GRACE = 3000;
const sockets = new Set();
let stopping = false;

const server = net.createServer((sock) => {
  sock.setNoDelay(true);
  sockets.add(sock);
  sock.on('close', () => sockets.delete(sock));
  if (IDLE) {
    sock.setTimeout(IDLE * 1000);
    // --fixed: destroy(): end() only sends a FIN, and a vanished peer never answers it
    sock.on('timeout', () => (FIXED ? sock.destroy() : sock.end()));
  }
  let buf = Buffer.alloc(0);
  sock.on('data', (chunk) => {
    if (stopping) return; // after SIGTERM: discard until the peer's FIN
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4) {
      const n = buf.readUInt32BE(0);
      if (n > MAX) { sock.destroy(); return; }
      if (buf.length < 4 + n) break;
      // --fixed: write() returning false means the high-water mark is passed: stop reading
      if (!sock.write(buf.subarray(0, 4 + n)) && FIXED) sock.pause();
      buf = buf.subarray(4 + n);
    }
  });
  if (FIXED) sock.on('drain', () => sock.resume());
  sock.on('end', () => sock.end());
  sock.on('error', () => {});
}).listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
if (FIXED) {
  process.on('SIGTERM', () => {
    stopping = true;
    server.close();
    for (const sock of sockets) { sock.resume(); sock.end(); }
    setTimeout(() => { for (const sock of sockets) sock.destroy(); }, GRACE).unref();
  });
}
