"""echo_asyncio — a framed echo server as a Python programmer writes it: asyncio streams,
4-byte big-endian length prefix (Erlang {packet,4}). Not written for framespec: a peer to judge
and to benchmark against.  Run: python3 peers/echo_asyncio.py PORT [MAX_FRAME]"""
import asyncio
import struct
import sys

MAX = int(sys.argv[2]) if len(sys.argv) > 2 else 16 << 20


async def handle(reader, writer):
    try:
        while True:
            header = await reader.readexactly(4)
            (n,) = struct.unpack(">I", header)
            if n > MAX:
                break
            payload = await reader.readexactly(n)
            writer.write(header + payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    print("listening on 127.0.0.1:%s" % sys.argv[1], flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
