// echo_node — a framed echo server as a Node.js programmer writes it: `net`, 4-byte big-endian
// length prefix (Erlang {packet,4}). Not written for framespec: a peer to judge.
// Run: node peers/echo_node.js PORT [MAX_FRAME]
'use strict';
const net = require('net');
const port = parseInt(process.argv[2], 10);
const MAX = process.argv[3] ? parseInt(process.argv[3], 10) : 16 * 1024 * 1024;

net.createServer((sock) => {
  sock.setNoDelay(true);
  let buf = Buffer.alloc(0);
  sock.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4) {
      const n = buf.readUInt32BE(0);
      if (n > MAX) { sock.destroy(); return; }
      if (buf.length < 4 + n) break;
      sock.write(buf.subarray(0, 4 + n));
      buf = buf.subarray(4 + n);
    }
  });
  sock.on('end', () => sock.end());
  sock.on('error', () => {});
}).listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
