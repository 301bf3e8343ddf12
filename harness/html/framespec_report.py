#!/usr/bin/python3
"""framespec report: render framespec JSON reports as one self-contained HTML page.

usage: framespec report OUT.html [NAME=]REPORT.json... [--spec docs/spec.md] [--title TEXT]

Each REPORT.json is either a `framespec run --json` report (a column of the matrix) or a
`framespec bench --json` result (a series of the latency chart). NAME names the column or series;
without it the report's "label" is used, else the file name without ".json".

The page works offline: inline CSS, inline SVG and a few lines of inline script (the copy
buttons), no fetches. Templates and HTML escaping are Jinja2's (Debian python3-jinja2, with
autoescaping on for every value); this file only computes what to draw.

Exit status: 0 written; 2 usage error, an unreadable or unknown input, or OUT.html not writable.
"""
import argparse
import csv
import json
import math
import os
import re
import sys
import time

try:
    import jinja2
except ImportError:  # pragma: no cover - the message is the point
    sys.exit("framespec report: needs Jinja2 for /usr/bin/python3: apt-get install python3-jinja2")

HERE = os.path.dirname(os.path.abspath(__file__))

# verdict -> (symbol, css class, words); the symbol makes a cell readable without colour
VERDICTS = {
    "pass": ("\u2713", "pass", "pass"),
    "fail": ("\u2717", "fail", "fail (MUST)"),
    "warn": ("!", "warn", "warning (SHOULD)"),
    "flaky": ("\u2248", "flaky", "flaky"),
    "skip": ("\u2013", "skip", "skipped"),
    "xfail": ("\u2717\u2009exp", "xfail", "expected failure (--expect)"),
    "fixed": ("\u2713\u2009fixed", "fixed", "fixed: listed as failing, passed (--expect)"),
}
# the most of a reproducer and of a wire log shown inline (the JSON report has all of it)
REPRO_SHOWN = 64 * 1024
WIRE_LINES_SHOWN = 400
# the most events one timeline draws: the first and last halves, with a gap between
TIMELINE_EVENTS = 80
# the longest note drawn in a timeline (the whole line is its tooltip)
NOTE_CHARS = 90


def die(msg):
    print("framespec report: " + msg, file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------------------------------------
# inputs

def find_spec(explicit):
    """docs/spec.md: --spec, $FRAMESPEC_SPEC, next to this file (build/share/framespec), or the
    source tree's docs/. None when there is none (the page then omits requirement texts)."""
    cands = [explicit, os.environ.get("FRAMESPEC_SPEC"), os.path.join(HERE, "spec.md"),
             os.path.join(HERE, "..", "..", "docs", "spec.md")]
    for c in cands:
        if c and os.path.isfile(c):
            return c
    if explicit:
        die("--spec %s: no such file" % explicit)
    return None


REQ_RE = re.compile(r"^- \*\*([A-Z]+-\d+)\*\* \((MUST|SHOULD)\) (.*)$")


def load_spec(path):
    """{requirement id: (level, text)} from the spec's bullets "- **ID** (LEVEL) text", with
    their indented continuation lines."""
    reqs, cur = {}, None
    if not path:
        return reqs
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = REQ_RE.match(line)
            if m:
                cur = m.group(1)
                reqs[cur] = [m.group(2), m.group(3)]
            elif cur and line.startswith("  ") and line.strip():
                reqs[cur][1] += " " + line.strip()
            else:
                cur = None
    return {k: (lv, re.sub(r"[*`]", "", t)) for k, (lv, t) in reqs.items()}


COVERAGE_FIELDS = ["seconds", "programs", "edges", "corpus", "findings"]


def load_campaign(path):
    """DIR/coverage.csv of a `framespec fuzz --coverage` campaign -> [{field: number}] (dies
    naming the file and line on anything else)."""
    csv_path = os.path.join(path, "coverage.csv")
    try:
        with open(csv_path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        die("%s: a directory without a readable coverage.csv (%s): give the --out DIR of a "
            "framespec fuzz --coverage campaign" % (path, e.strerror))
    except (UnicodeDecodeError, csv.Error) as e:
        die("%s: not a coverage.csv (%s)" % (csv_path, e))
    if not rows or rows[0] != COVERAGE_FIELDS:
        die("%s:1: expected the header %s" % (csv_path, ",".join(COVERAGE_FIELDS)))
    out = []
    for n, row in enumerate(rows[1:], 2):
        try:
            if len(row) != len(COVERAGE_FIELDS):
                raise ValueError("%d fields" % len(row))
            vals = [float(v) for v in row]
            if any(v < 0 or v != v or v == float("inf") for v in vals):
                raise ValueError("a negative or non-finite number")
        except ValueError as e:
            die("%s:%d: expected %d numbers (%s)" % (csv_path, n, len(COVERAGE_FIELDS), e))
        out.append(dict(zip(COVERAGE_FIELDS, vals)))
    if not out:
        die("%s: no line after the header: the campaign ended before its first second" % csv_path)
    return out


def load_inputs(paths):
    runs, benches, campaigns = [], [], []
    for arg in paths:
        name, path = None, arg
        if "=" in arg and not os.path.exists(arg):
            name, path = arg.split("=", 1)
        if os.path.isdir(path):
            campaigns.append((name or os.path.basename(os.path.normpath(path)), path,
                              load_campaign(path)))
            continue
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as e:
            die("%s: %s" % (path, e.strerror))
        except ValueError as e:
            die("%s: not JSON (%s): give reports written by framespec run --json or bench --json"
                % (path, e))
        if not name:
            name = (data.get("label") if isinstance(data, dict) else None) or \
                re.sub(r"\.json$", "", os.path.basename(path))
        if isinstance(data, dict) and isinstance(data.get("cases"), list):
            runs.append((name, path, data))
        elif isinstance(data, dict) and isinstance(data.get("rtt_us"), dict):
            benches.append((name, path, data))
        else:
            die("%s: neither a run report (\"cases\") nor a bench result (\"rtt_us\")" % path)
    if not runs and not benches and not campaigns:
        die("no reports given")
    return runs, benches, campaigns


# ---------------------------------------------------------------------------------------------
# the wire timeline

LINE_RE = re.compile(r"^\[\s*([0-9.]+) ms\] (.*)$")
BYTES_RE = re.compile(r"^fd (\d+) (send|recv) (\d+) bytes: ?([0-9a-f ]*)( \.\.\.)?$")
SENT_RE = re.compile(r"^fd (\d+) sent (\d+) of (\d+) bytes")
CONN_RE = re.compile(r"^fd (\d+) connected to (.*)$")
SHUT_RE = re.compile(r"^fd (\d+) shutdown\((SHUT_WR|SHUT_RD|SHUT_RDWR)\)(?: after .*)?$")
TRANSFER_RE = re.compile(r"^fd (\d+) transfer: sending (\d+) bytes")
AFTER_RE = re.compile(r"^fd (\d+): (FIN|RST|timeout|error) after (\d+) sent, (\d+) received")
CLOSE_RE = re.compile(r"^fd (\d+) close$")
ABORT_RE = re.compile(r"^fd (\d+) abort")
END_RE = re.compile(r"^fd (\d+): (.*): (FIN|RST|timeout|error)$")
READEND_RE = re.compile(r"^fd (\d+) read (\d+) bytes(?: slowly .*)?, then (FIN|RST|timeout|error|open)")
FD_RE = re.compile(r"^fd (\d+)\b")


def parse_wire(log):
    """Wire-log lines -> events {t, kind, fd, n, label, hex}. kind: send, recv, fin_out, rst_out,
    fin_in, rst_in, timeout, connect, note."""
    events = []
    for raw in (log or "").splitlines():
        m = LINE_RE.match(raw)
        if not m:
            if raw.strip():
                events.append({"t": None, "kind": "note", "fd": None, "label": raw.strip()})
            continue
        t, text = float(m.group(1)), m.group(2)
        ev = {"t": t, "fd": None, "n": 0, "hex": None, "label": text}
        if (b := BYTES_RE.match(text)):
            ev.update(kind=b.group(2), fd=int(b.group(1)), n=int(b.group(3)),
                      hex=[int(x, 16) for x in b.group(4).split()],
                      label="%s %s B" % (b.group(2), f"{int(b.group(3)):,}"))
        elif (b := SENT_RE.match(text)):
            ev.update(kind="send", fd=int(b.group(1)), n=int(b.group(2)),
                      label="sent %s of %s B" % (f"{int(b.group(2)):,}", f"{int(b.group(3)):,}"))
        elif (b := TRANSFER_RE.match(text)):
            ev.update(kind="send", fd=int(b.group(1)), n=int(b.group(2)),
                      label="send %s B" % f"{int(b.group(2)):,}")
        elif (b := AFTER_RE.match(text)):
            k, fd = b.group(2), int(b.group(1))
            ev.update(kind="recv", fd=fd, n=int(b.group(4)),
                      label="received %s B" % f"{int(b.group(4)):,}")
            kind = {"FIN": "fin_in", "RST": "rst_in"}.get(k, "timeout")
            seen = [i for i, e in enumerate(events) if e.get("fd") == fd and e["kind"] == kind]
            if seen:
                # the close was logged when it was read, and these bytes came before it: the
                # summary line is written after, but the arrow goes before the close's
                ev["t"] = events[seen[-1]]["t"]
                events.insert(seen[-1], ev)
            else:
                events.append(ev)
                events.append({"t": t, "fd": fd, "n": 0, "hex": None, "label": k, "kind": kind})
            continue
        elif (b := CONN_RE.match(text)):
            ev.update(kind="connect", fd=int(b.group(1)), label="connect")
        elif (b := SHUT_RE.match(text)):
            ev.update(kind="fin_out" if b.group(2) != "SHUT_RD" else "note", fd=int(b.group(1)),
                      label="FIN (%s)" % b.group(2))
        elif (b := CLOSE_RE.match(text)):
            ev.update(kind="fin_out", fd=int(b.group(1)), label="FIN (close)")
        elif (b := ABORT_RE.match(text)):
            ev.update(kind="rst_out", fd=int(b.group(1)), label="RST (SO_LINGER 0)")
        elif (b := END_RE.match(text)):
            k = b.group(3)
            ev.update(kind={"FIN": "fin_in", "RST": "rst_in"}.get(k, "timeout"), fd=int(b.group(1)),
                      label="%s (%s)" % (k, b.group(2)))
        elif (b := READEND_RE.match(text)):
            k = b.group(3)
            ev.update(kind="recv", fd=int(b.group(1)), n=int(b.group(2)),
                      label="read %s B, then %s" % (f"{int(b.group(2)):,}", k))
            events.append(ev)
            if k in ("FIN", "RST", "timeout", "error"):
                events.append({"t": t, "fd": ev["fd"], "n": 0, "hex": None,
                               "kind": {"FIN": "fin_in", "RST": "rst_in"}.get(k, "timeout"),
                               "label": k})
            continue
        else:
            fm = FD_RE.match(text)
            ev.update(kind="note", fd=int(fm.group(1)) if fm else None)
        events.append(ev)
    return events


def find_mismatch(events, failed):
    """Index of the event where the echo stream stopped matching, and why; (None, None) when the
    log shows none. The log gives each send's and each receive's first bytes (24), so a mismatch
    inside those is found exactly; otherwise a failing case is marked at the last receive of the
    connection that got fewer bytes back than it sent."""
    sent, known, got, last_recv = {}, {}, {}, {}
    for i, ev in enumerate(events):
        fd = ev.get("fd")
        if ev["kind"] == "send":
            base = sent.get(fd, 0)
            for j, b in enumerate(ev.get("hex") or []):
                known.setdefault(fd, {})[base + j] = b
            sent[fd] = base + ev["n"]
        elif ev["kind"] == "recv":
            base = got.get(fd, 0)
            for j, b in enumerate(ev.get("hex") or []):
                want = known.get(fd, {}).get(base + j)
                if want is not None and want != b:
                    return i, "echo byte %d: sent 0x%02x, got 0x%02x" % (base + j, want, b)
                if want is None and base + j >= sent.get(fd, 0):
                    return i, "echo byte %d: got 0x%02x, more than was sent" % (base + j, b)
            got[fd] = base + ev["n"]
            last_recv[fd] = i
    if failed:
        for fd, n in sent.items():
            if got.get(fd, 0) < n and fd in last_recv:
                return last_recv[fd], "fd %d: %s of %s bytes echoed, then nothing more" % (
                    fd, f"{got.get(fd, 0):,}", f"{n:,}")
    return None, None


def timeline(log, failed, verdict_text):
    """The SVG sequence diagram of one wire log, as data for the template (None without a log).
    Lifelines: each client descriptor, then the server; one row per event (times are labels, so a
    5 s wait does not stretch the page); at most TIMELINE_EVENTS rows."""
    events = parse_wire(log)
    if not any(ev["kind"] != "note" for ev in events):
        return None
    bad, why = find_mismatch(events, failed)
    for i, ev in enumerate(events):
        ev["i"] = i
    shown = events
    gap = 0
    if len(events) > TIMELINE_EVENTS:
        keep = set(range(TIMELINE_EVENTS // 2)) | set(range(len(events) - TIMELINE_EVENTS // 2, len(events)))
        if bad is not None:
            keep.add(bad)
        shown = [ev for ev in events if ev["i"] in keep]
        gap = len(events) - len(shown)
    fds = []
    for ev in events:
        if ev.get("fd") is not None and ev["fd"] not in fds:
            fds.append(ev["fd"])
    lane_w, left = 150, 90
    xs = {fd: left + k * lane_w for k, fd in enumerate(fds)}
    server_x = left + len(fds) * lane_w + 60
    row_h, top = 22, 40
    rows, y, prev = [], top, None
    for ev in shown:
        if prev is not None and ev["i"] != prev + 1:
            rows.append({"kind": "gap", "y": y, "label": "\u22ee %d events left out" % (ev["i"] - prev - 1)})
            y += row_h
        prev = ev["i"]
        label = ev["label"]
        r = {"kind": ev["kind"], "y": y, "label": label if len(label) <= NOTE_CHARS
             else label[:NOTE_CHARS - 1] + "\u2026", "full": label,
             "t": "" if ev["t"] is None else "%.1f ms" % ev["t"],
             "bad": ev["i"] == bad}
        fx = xs.get(ev.get("fd"), left)
        if ev["kind"] in ("send", "fin_out", "rst_out"):
            r.update(x1=fx, x2=server_x)
        elif ev["kind"] in ("recv", "fin_in", "rst_in"):
            r.update(x1=server_x, x2=fx)
        elif ev["kind"] in ("connect", "timeout"):
            r.update(x1=fx, x2=fx)
        else:
            r.update(x1=server_x + 12, x2=server_x + 12)  # notes: right of the server's line
        rows.append(r)
        y += row_h
        if ev["i"] == bad:
            rows.append({"kind": "mismatch", "y": y, "label": "\u2717 " + why, "x1": left - 70,
                         "x2": server_x, "full": why})
            y += row_h
    if bad is None and failed:
        rows.append({"kind": "mismatch", "y": y, "x1": left - 70, "x2": server_x,
                     "label": "\u2717 " + (verdict_text if len(verdict_text) <= NOTE_CHARS
                                          else verdict_text[:NOTE_CHARS - 1] + "\u2026"),
                     "full": verdict_text})
        y += row_h
    width = server_x + 12 + NOTE_CHARS * 7 + 10
    return {"lanes": [{"x": xs[fd], "label": "client fd %d" % fd} for fd in fds],
            "server_x": server_x, "rows": rows, "height": y + 10, "top": top, "width": width,
            "gap": gap, "events": len(events)}


# ---------------------------------------------------------------------------------------------
# the matrix

def cell_of(case):
    status = case.get("status", "skip")
    sym, css, words = VERDICTS.get(status, ("?", "skip", status))
    text = sym
    if status == "flaky":
        text = "%s %d/%d" % (sym, case.get("failures", 0), case.get("runs", 0))
    elif status in ("fail", "warn") and case.get("runs", 1) > 1:
        text = "%s %d/%d" % (sym, case.get("failures", 0), case.get("runs", 0))
    return {"status": status, "css": css, "text": text, "words": words,
            "title": "%s: %s" % (words, case.get("detail") or "")}


def shorten(text, limit):
    if text is None or len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def build(runs, benches, spec, title, campaigns=()):
    order, meta = [], {}
    for _, _, data in runs:
        for c in data["cases"]:
            cid = c.get("id")
            if cid not in meta:
                order.append(cid)
                meta[cid] = {"id": cid, "group": cid.split(".")[0], "level": c.get("level", ""),
                             "requirements": c.get("requirements") or [],
                             "description": c.get("description") or ""}
    impls = []
    for k, (name, path, data) in enumerate(runs):
        s = data.get("summary", {})
        impls.append({"k": k, "name": name, "path": path, "target": data.get("target"),
                      "framing": data.get("framing"), "max_frame": data.get("max_frame"),
                      "repeat": s.get("repeat", 1), "summary": s,
                      "version": data.get("framespec_version"),
                      "cases": {c.get("id"): c for c in data["cases"]}})
    groups, details, expected_details = [], [], []
    for cid in order:
        m = meta[cid]
        if not groups or groups[-1]["name"] != m["group"]:
            groups.append({"name": m["group"], "rows": []})
        cells = []
        for im in impls:
            c = im["cases"].get(cid)
            if c is None:
                cells.append({"status": "none", "css": "none", "text": "", "title": "not run",
                              "words": "not run", "anchor": None})
                continue
            cell = cell_of(c)
            cell["anchor"] = None
            if cell["status"] in ("fail", "warn", "flaky", "xfail"):
                anchor = "d%d-%s" % (im["k"], re.sub(r"[^A-Za-z0-9_.-]", "_", cid))
                cell["anchor"] = anchor
                repro, repro_cut = shorten(c.get("repro"), REPRO_SHOWN)
                wire = (c.get("wire_log") or "").splitlines()
                wire_cut = max(0, len(wire) - WIRE_LINES_SHOWN)
                verdict = c.get("detail") or cell["words"]
                (expected_details if cell["status"] == "xfail" else details).append({
                    "anchor": anchor, "impl": im["name"], "case": m, "cell": cell,
                    "reqs": [(r, spec.get(r, ("", ""))) for r in m["requirements"]],
                    "detail": c.get("detail"), "expected": c.get("expected"),
                    "actual": c.get("actual"), "close": c.get("close"),
                    "failed_runs": c.get("failed_runs") or [], "runs": c.get("runs", 0),
                    "repro": repro, "repro_cut": repro_cut,
                    "repro_command": c.get("repro_command"),
                    "wire": "\n".join(wire[-WIRE_LINES_SHOWN:]), "wire_cut": wire_cut,
                    "timeline": timeline(c.get("wire_log"), True, verdict)})
            cells.append(cell)
        groups[-1]["rows"].append({"meta": m, "cells": cells})
    return {"title": title, "impls": impls, "groups": groups, "details": details,
            "expected_details": expected_details,
            "bench": bench_chart(benches), "coverage": coverage_chart(campaigns),
            "verdicts": VERDICTS,
            "generated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "ncases": len(order)}


# ---------------------------------------------------------------------------------------------
# benchmarks

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22"]
PCTS = [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9")]


def bench_chart(benches):
    """Round-trip percentiles of every bench result on one log-scale chart (None without any)."""
    if not benches:
        return None
    vals = [b["rtt_us"].get(k) for _, _, b in benches for k, _ in PCTS]
    vals = [v for v in vals if isinstance(v, (int, float)) and v > 0]
    lo = 10 ** math.floor(math.log10(min(vals))) if vals else 1
    hi = 10 ** math.ceil(math.log10(max(vals))) if vals else 10
    if hi <= lo:
        hi = lo * 10
    w, h, left, top, bottom = 640, 320, 70, 20, 40
    pw, ph = w - left - 180, h - top - bottom

    def ypos(v):
        return top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph

    xs = [left + pw * i / (len(PCTS) - 1) for i in range(len(PCTS))]
    ticks, d = [], lo
    while d <= hi * 1.0001:
        ticks.append({"y": ypos(d), "label": ("%g µs" % d) if d < 1000 else ("%g ms" % (d / 1000))})
        d *= 10
    series, rows = [], []
    for k, (name, _, b) in enumerate(benches):
        pts = [(xs[i], ypos(b["rtt_us"][key])) for i, (key, _) in enumerate(PCTS)
               if isinstance(b["rtt_us"].get(key), (int, float)) and b["rtt_us"][key] > 0]
        colour = PALETTE[k % len(PALETTE)]
        series.append({"name": name, "colour": colour,
                       "points": " ".join("%.1f,%.1f" % p for p in pts), "dots": pts,
                       "legend_y": top + 16 * k + 8})
        rows.append({"name": name, "colour": colour, "conns": b.get("conns"), "depth": b.get("depth"),
                     "size": b.get("size_min") if b.get("size_min") == b.get("size_max")
                     else "%s:%s" % (b.get("size_min"), b.get("size_max")),
                     "fps": b.get("frames_per_s"), "mbps": b.get("mb_per_s"),
                     "rtt": [b["rtt_us"].get(key) for key, _ in PCTS], "errors": b.get("errors")})
    return {"w": w, "h": h, "left": left, "top": top, "pw": pw, "ph": ph, "ticks": ticks,
            "xs": [{"x": x, "label": lab} for x, (_, lab) in zip(xs, PCTS)], "series": series,
            "rows": rows, "legend_x": left + pw + 20}


def coverage_chart(campaigns):
    """Edges reached over seconds, one line per fuzz campaign (None without any)."""
    if not campaigns:
        return None
    xmax = max(r["seconds"] for _, _, rows in campaigns for r in rows) or 1
    ymax = max(r["edges"] for _, _, rows in campaigns for r in rows) or 1
    w, h, left, top, bottom = 640, 320, 70, 20, 40
    pw, ph = w - left - 180, h - top - bottom

    def pos(x, y):
        return left + pw * x / xmax, top + ph - ph * y / ymax

    step = 10 ** math.floor(math.log10(ymax)) if ymax >= 10 else 1
    while ymax / step > 8:
        step *= 2
    yticks = [{"y": pos(0, v)[1], "label": "%g" % v}
              for v in [step * i for i in range(int(ymax // step) + 1)]]
    xstep = 10 ** math.floor(math.log10(xmax)) if xmax >= 10 else 1
    while xmax / xstep > 8:
        xstep *= 2
    xticks = [{"x": pos(v, 0)[0], "label": "%g s" % v}
              for v in [xstep * i for i in range(int(xmax // xstep) + 1)]]
    series, table = [], []
    for k, (name, path, rows) in enumerate(campaigns):
        colour = PALETTE[k % len(PALETTE)]
        pts = [pos(r["seconds"], r["edges"]) for r in rows]
        series.append({"name": name, "colour": colour,
                       "points": " ".join("%.1f,%.1f" % p for p in pts),
                       "legend_y": top + 16 * k + 8})
        last = rows[-1]
        table.append({"name": name, "colour": colour, "path": path, "seconds": last["seconds"],
                      "programs": int(last["programs"]), "edges": int(last["edges"]),
                      "corpus": int(last["corpus"]), "findings": int(last["findings"])})
    return {"w": w, "h": h, "left": left, "top": top, "pw": pw, "ph": ph, "yticks": yticks,
            "xticks": xticks, "series": series, "rows": table, "legend_x": left + pw + 20}


def main(argv):
    ap = argparse.ArgumentParser(prog="framespec report",
                                 description="Render framespec JSON reports as one HTML page.")
    ap.add_argument("out", metavar="OUT.html")
    ap.add_argument("reports", metavar="[NAME=]REPORT.json|DIR", nargs="+")
    ap.add_argument("--spec", help="docs/spec.md, for the requirement texts")
    ap.add_argument("--title", default="framespec report")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        sys.exit(2 if e.code else 0)
    runs, benches, campaigns = load_inputs(a.reports)
    spec = load_spec(find_spec(a.spec))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    page = env.get_template("report.html.j2").render(**build(runs, benches, spec, a.title, campaigns))
    tmp = a.out + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, a.out)
    except OSError as e:
        die("cannot write %s: %s" % (a.out, e.strerror))
    print("framespec report: wrote %s (%d implementations, %d benchmark results, %d fuzz "
          "campaigns, %s bytes)" % (a.out, len(runs), len(benches), len(campaigns),
                                    f"{len(page.encode()):,}"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
