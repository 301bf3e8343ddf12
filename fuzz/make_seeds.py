#!/usr/bin/env python3
"""Write the seed corpora corpus/<target>/, each file named by the SHA-1 of its content.
Run again after changing a target's input layout: python3 fuzz/make_seeds.py"""
import hashlib
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def frame(f, payload):
    if f == 1:
        return struct.pack(">B", len(payload)) + payload
    if f == 2:
        return struct.pack(">H", len(payload)) + payload
    if f == 4:
        return struct.pack(">I", len(payload)) + payload
    return payload + b"\n"


# framing selector bytes: decode/conn: 0 raw, 1 u8, 2 u16, 3 u32, 4 line; roundtrip: 0 u8, 1 u16,
# 2 u32, 3 line
SEL = {1: 1, 2: 2, 4: 3, "line": 4}
RT_SEL = {1: 0, 2: 1, 4: 2, "line": 3}


def seeds():
    out = {"decode_fuzz": [], "roundtrip_fuzz": [], "conn_fuzz": []}
    for f in (1, 2, 4, "line"):
        stream = b"".join(frame(f, p) for p in (b"hello", b"", b"x" * 40, bytes(range(10, 60))))
        for mx in (0, 100, 255, 3):
            head = bytes([SEL[f]]) + struct.pack(">H", mx) + b"\x12\x34"
            out["decode_fuzz"].append(head + stream)
            out["decode_fuzz"].append(head + stream + b"\xff\xff\xff\xff")
        rt = bytes([RT_SEL[f]]) + struct.pack(">H", 300)
        for p in (b"abc", b"", b"y" * 299, b"line\nbreak"):
            rt += struct.pack(">H", len(p)) + p
        out["roundtrip_fuzz"].append(rt)
        # conn: framing, max, hwm, then ops: 0 = read (u16 size + bytes), 3 = partial write,
        # 4 = write all, 5 = EAGAIN, 6 = FIN, 7 = reset/idle
        ops = b""
        for i in range(0, len(stream), 7):
            chunk = stream[i:i + 7]
            ops += b"\x00" + struct.pack(">H", len(chunk) - 1) + chunk + b"\x03\x00\x02"
        ops += b"\x04\x06\x04"
        out["conn_fuzz"].append(bytes([SEL[f]]) + struct.pack(">H", 200) + struct.pack(">H", 64)
                                + ops)
        out["conn_fuzz"].append(bytes([SEL[f]]) + struct.pack(">H", 10) + struct.pack(">H", 8)
                                + b"\x00\x00\x10" + frame(f, b"z" * 9) + b"\xff" * 8 + b"\x05\x04\x07\x00")
    return out


def main():
    for target, items in seeds().items():
        d = os.path.join(ROOT, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for data in items:
            with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
                f.write(data)
        print("%s: %d seeds" % (target, len(items)))


if __name__ == "__main__":
    main()
