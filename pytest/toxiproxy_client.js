// Drive framespec proxy's API with Toxiproxy's own Node client (npm toxiproxy-node-client),
// unchanged, and check each effect with a plain client (framing 4) through the proxy to an echo
// server. For pytest/test_47_proxy.py.
// Usage: node toxiproxy_client.js MODULE_DIR API_URL UPSTREAM_HOST:PORT
// Prints one JSON object: the figures and what each step saw; exit 1 on the first failure.
"use strict";
const path = require("path");
const net = require("net");

const [moduleDir, api, upstream] = process.argv.slice(2);
const { Toxiproxy } = require(path.join(moduleDir, "toxiproxy-node-client"));

function frame(payload) {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(payload.length);
  return Buffer.concat([h, payload]);
}

// Connect to port, send `data`, and gather what comes back until `want` bytes, a close or
// 5 s: {got: bytes, how: "bytes" | "eof" | "ECONNRESET" | "timeout", ms}.
function exchange(port, data, want) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, "127.0.0.1");
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (how) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ got: got.length, how, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish("timeout"), 5000);
    s.on("connect", () => s.write(data));
    s.on("data", (b) => {
      got = Buffer.concat([got, b]);
      if (want !== undefined && got.length >= want) finish("bytes");
    });
    s.on("end", () => finish("eof"));
    s.on("error", (e) => finish(e.code || String(e)));
  });
}

async function main() {
  const out = {};
  const check = (ok, what) => {
    if (!ok) {
      out.failed = what;
      console.log(JSON.stringify(out));
      process.exit(1);
    }
  };
  const tp = new Toxiproxy(api);
  out.version = await tp.getVersion();
  const proxy = await tp.createProxy({ name: "echo", listen: "127.0.0.1:0", upstream });
  const port = Number(proxy.listen.split(":")[1]);
  check(proxy.name === "echo" && port > 0, "createProxy: " + proxy.listen);
  const f = frame(Buffer.alloc(100, 120));

  out.plain = await exchange(port, f, f.length);
  check(out.plain.how === "bytes", "plain echo");

  const latency = await proxy.addToxic({ type: "latency", attributes: { latency: 300 } });
  check(latency.name === "latency_downstream" && latency.toxicity === 1, "latency toxic");
  out.latency = await exchange(port, f, f.length);
  check(out.latency.how === "bytes" && out.latency.ms >= 300, "latency 300 ms");
  await latency.remove();
  out.after_remove = await exchange(port, f, f.length);
  check(out.after_remove.how === "bytes", "echo after the latency's removal");

  const reset = await proxy.addToxic({ type: "reset_peer", stream: "upstream",
                                       attributes: { timeout: 0 } });
  out.reset_peer = await exchange(port, f, f.length);
  check(out.reset_peer.how === "ECONNRESET" && out.reset_peer.got === 0, "reset_peer: an RST");
  await reset.remove();

  const fr = await proxy.addToxic({ type: "frame_reset", stream: "downstream",
                                    attributes: { after_frames: 1 } });
  check(fr.type === "frame_reset" && fr.attributes.after_frames === 1, "frame_reset toxic");
  out.frame_reset = await exchange(port, Buffer.concat([f, f]));
  // the frame, then the end: libuv reports the RST as ECONNRESET, or as an EOF when it comes
  // with the frame (src/unix/stream.c uv__stream_io(): POLLHUP after a partial read is an EOF);
  // test_frame_reset_after_three_frames sees the RST itself, on both sides
  check((out.frame_reset.how === "ECONNRESET" || out.frame_reset.how === "eof") &&
        out.frame_reset.got === f.length, "frame_reset after 1 frame: one frame, then the end");
  await fr.remove();

  let dup = null;
  try {
    await proxy.addToxic({ type: "nosuch" });
  } catch (e) {
    dup = e.message;
  }
  check(dup && dup.includes("400"), "an unknown toxic type is a 400");
  await tp.reset();
  await proxy.remove();
  const all = await tp.getAll();
  check(Object.keys(all).length === 0, "getAll after remove");
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.log(JSON.stringify({ failed: String(e && e.stack ? e.stack : e) }));
  process.exit(1);
});
