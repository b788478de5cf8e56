#!/usr/bin/env python3
"""Upload benchmark: `tpns upload` against `curl -F`, over HTTPS to the emulator on 127.0.0.1.

Run through `bench/upload.sh`, which builds the binaries first. Two data sets: `ascii` (rows
`account-NNNNNNNN`) and `mixed` (real-world names: one row in five with accented Latin, Greek,
Cyrillic or CJK, about 12 % of the bytes non-ASCII, from `gen-package`, the same bytes on every
run). For each data set and package size the two
clients run alternately (tpns, curl, tpns, curl, ...; with --compare, other builds of tpns in
between) after one untimed warm-up each; every run
is timed (wall clock; user and system CPU by wait4(2)) and checked:
the answer must be retCode 0 with an uploadId, and the emulator's record of that uploadId must
have the local file's size and SHA-256. The figures are medians; the peak RSS comes from the
warm-up run, made under GNU time (`%M`).

It is a benchmark, not a test: it never fails on slow runs. It exits 1 only if an upload did not
arrive whole (a client or emulator bug), 2 if it cannot start.
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TIME = "/usr/bin/time"  # GNU time
ACCESS_ID = "1500001048"
SECRET = "bench-secret-not-a-real-key"
ROW = 17  # len("account-00000001\n")


def write_package(path, size):
    """A valid .txt package of exactly `size` bytes (rows `account-NNNNNNNN`, 2..=100 chars)."""
    with open(path, "wb") as f:
        written, i = 0, 1
        block = []
        while size - written >= ROW + 3 or size - written == ROW:
            block.append(b"account-%08d\n" % i)
            written += ROW
            i += 1
            if len(block) == 4096:
                f.write(b"".join(block))
                block.clear()
        f.write(b"".join(block))
        rest = size - written
        if rest:
            assert rest >= 3, "a package holds at least one 2-character row"
            f.write(b"x" * (rest - 1) + b"\n")
    assert os.path.getsize(path) == size


def write_generated(gen, path, size, mix):
    """A package of exactly `size` bytes from `gen-package` (tpns_bench::mixed_package)."""
    with open(path, "wb") as f:
        subprocess.run([gen, str(size), mix], stdout=f, check=True)
    assert os.path.getsize(path) == size


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def run(argv, env, rss_file=None):
    """Runs argv; returns (stdout, stderr, exit status, wall s, user+sys s, peak RSS KiB).

    Wall clock by perf_counter, CPU by wait4(2), both to the microsecond. The peak RSS only
    with `rss_file`, through GNU time's `%M`: wait4's own ru_maxrss would be wrong here, since
    a child that Python spawns (vfork) starts its high-water mark at Python's RSS, about
    24 MiB, while GNU time forks from a process of about 2 MiB. GNU time adds a few ms of
    wall clock (one more fork and exec), so timed runs go without it.
    """
    wrap = [TIME, "-f", "%M", "-o", rss_file] if rss_file else []
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([*wrap, *argv], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    rss = None
    if rss_file:
        with open(rss_file) as f:
            # The last word: GNU time writes "Command exited with non-zero status N" first.
            rss = int(f.read().split()[-1])
    return *text, proc.returncode, wall, usage.ru_utime + usage.ru_stime, rss


def fmt_size(n):
    if n >= 1_000_000:
        return f"{n // 1_000_000} MB"
    return f"{n} B"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tpns", required=True)
    ap.add_argument("--emulator", required=True)
    ap.add_argument("--curl", default=shutil.which("curl") or "curl")
    ap.add_argument("--sizes", default="3,1000000,10000000,100000000",
                    help="package sizes in bytes (3 = the smallest valid package)")
    ap.add_argument("--runs", default="3:21,1000000:11,10000000:7,100000000:5",
                    help="SIZE:RUNS per client; sizes not listed get 5")
    ap.add_argument("--data", default="ascii,mixed",
                    help="data sets: ascii (rows account-NNNNNNNN) and/or mixed (one row in "
                         "five with accented Latin, Greek, Cyrillic or CJK, ~12 %% non-ASCII "
                         "bytes; needs --gen)")
    ap.add_argument("--gen", help="the gen-package binary of tpns-bench (for --data mixed)")
    ap.add_argument("--markdown", help="also write the table as Markdown to this file")
    ap.add_argument("--compare", action="append", default=[], metavar="NAME=PATH",
                    help="also run this other build of tpns, in turn with the others "
                         "(repeatable), e.g. --compare fix=/tmp/other/target/release/tpns")
    args = ap.parse_args()

    sizes = [int(s) for s in args.sizes.split(",") if s]
    sets = [d for d in args.data.split(",") if d]
    for d in sets:
        if d not in ("ascii", "mixed"):
            sys.exit(f"upload.sh: unknown data set {d!r}: ascii or mixed")
        if d == "mixed" and not args.gen:
            sys.exit("upload.sh: --data mixed needs --gen PATH (gen-package)")
    runs = {int(k): int(v) for k, v in (p.split(":") for p in args.runs.split(",") if p)}

    work = tempfile.mkdtemp(prefix="tpns-bench-")
    emulator = None
    try:
        emulator = subprocess.Popen(
            [args.emulator, "--listen", "127.0.0.1:0", "--data-dir", os.path.join(work, "emu"),
             "--app", f"{ACCESS_ID}:{SECRET}", "--discard"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        first = json.loads(emulator.stdout.readline())
        https, ca = first["https"], first["ca"]
        if not https.startswith("127.0.0.1:"):
            sys.exit(f"upload.sh: the emulator listens on {https}, not on loopback")
        url = f"https://{https}"
        tls = ssl.create_default_context(cafile=ca)

        def records():
            # The listing shows the uploads of the app whose Basic credentials it is sent.
            token = base64.b64encode(f"{ACCESS_ID}:{SECRET}".encode()).decode()
            req = urllib.request.Request(f"{url}/_emulator/uploads",
                                         headers={"Authorization": f"Basic {token}"})
            with urllib.request.urlopen(req, context=tls, timeout=30) as r:
                return {rec["upload_id"]: rec for rec in json.load(r)}

        rss_file = os.path.join(work, "rss")
        env = dict(os.environ, TPNS_SECRET_KEY=SECRET)
        env.pop("TPNS_ACCESS_ID", None)
        def tpns(binary):
            return lambda p: [binary, "upload", "--endpoint", url + "/", "--ca-file", ca,
                              "--access-id", ACCESS_ID, "--no-progress", "--json", "--retries",
                              "0", p]

        clients = {"tpns": tpns(args.tpns)}
        for spec in args.compare:
            name, _, binary = spec.partition("=")
            if not binary or name in ("tpns", "curl"):
                sys.exit(f"upload.sh: --compare wants NAME=PATH with another name, not {spec!r}")
            clients[name] = tpns(binary)
        clients["curl"] = lambda p: [args.curl, "-sS", "--fail", "--cacert", ca, "-u",
                                     f"{ACCESS_ID}:{SECRET}", "-F", f"file=@{p}",
                                     f"{url}/v3/push/package/upload"]

        broken = 0
        results = []
        for data, size in ((d, z) for d in sets for z in sizes):
            if data == "mixed" and size < 1000:
                continue  # the smallest package is the same 3 ASCII bytes in both sets
            path = os.path.join(work, f"accounts-{data}-{size}.txt")
            if data == "ascii":
                write_package(path, size)
            else:
                write_generated(args.gen, path, size, data)
            digest = sha256(path)
            n = runs.get(size, 5)
            samples = {c: [] for c in clients}
            whole = {c: 0 for c in clients}
            peak = {c: None for c in clients}
            # One untimed warm-up each (page cache, emulator), then alternate.
            for i in range(n + 1):
                for name, argv in clients.items():
                    out, err, code, wall, cpu, rss = run(argv(path), env, rss_file if i == 0 else None)
                    upload_id = None
                    try:
                        answer = json.loads(out.strip().splitlines()[-1])
                        if name == "curl":
                            if answer.get("retCode") == 0:
                                upload_id = answer.get("uploadId")
                        else:
                            upload_id = answer.get("uploadId")
                    except (ValueError, IndexError, AttributeError):
                        pass
                    rec = records().get(upload_id) if code == 0 and upload_id else None
                    ok = rec is not None and rec["size"] == size and rec["sha256"] == digest
                    if not ok:
                        broken += 1
                        print(f"NOT WHOLE: {name} {size} B: exit {code}, answer {out.strip()!r},"
                              f" record {rec}, stderr {err.strip()[:300]!r}", file=sys.stderr)
                        continue
                    if i == 0:
                        peak[name] = rss
                        continue
                    whole[name] += 1
                    samples[name].append((wall, cpu, rss))
            row = {"size": size, "data": data, "runs": n}
            for name in clients:
                s = samples[name]
                if not s:
                    row[name] = None
                    continue
                wall = statistics.median(x[0] for x in s)
                row[name] = {
                    "wall": wall,
                    "mbps": size / wall / 1e6,
                    "cpu": statistics.median(x[1] for x in s),
                    "rss": peak[name] / 1024 if peak[name] else float("nan"),  # MiB
                    "whole": f"{whole[name]}/{n}",
                }
            results.append(row)
            print(f"{data:>5} {fmt_size(size):>7}: " + " | ".join(
                f"{name} {r['wall'] * 1e3:.1f} ms, {r['cpu'] * 1e3:.1f} ms CPU, {r['rss']:.1f} MiB"
                if (r := row[name]) else f"{name} –" for name in clients), file=sys.stderr)
            os.remove(path)

        table = render(results, list(clients))
        print(table)
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(table + "\n")
        return 1 if broken else 0
    finally:
        if emulator is not None:
            emulator.send_signal(signal.SIGTERM)
            try:
                emulator.wait(timeout=10)
            except subprocess.TimeoutExpired:
                emulator.kill()
                emulator.wait()
        shutil.rmtree(work, ignore_errors=True)


def render(results, clients):
    def ms(x):
        return f"{x * 1e3:.1f} ms" if x < 10 else f"{x:.2f} s"

    lines = [
        "| package | client | runs whole | median wall | throughput | median user+sys CPU "
        "| peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    ratios = ["", "| package | client | wall vs curl | CPU vs curl | peak RSS vs curl |",
              "|---|---|---|---|---|"]
    for row in results:
        label = fmt_size(row["size"])
        if row["size"] < 1000:
            label += " (smallest valid package)"
        else:
            label = f"{row['data']} {label}"
        for name in clients:
            r = row[name]
            if r is None:
                lines.append(f"| {label} | `{name}` | 0/{row['runs']} | – | – | – | – |")
                continue
            tp = f"{r['mbps']:.0f} MB/s" if row["size"] >= 1000 else "–"
            lines.append(f"| {label} | `{name}` | {r['whole']} | {ms(r['wall'])} | {tp} "
                         f"| {ms(r['cpu'])} | {r['rss']:.1f} MiB |")
        c = row["curl"]
        for name in clients[:-1]:
            t = row[name]
            if t and c:
                cpu = f"{t['cpu'] / c['cpu']:.2f}" if c["cpu"] > 0 else "–"
                ratios.append(f"| {label} | `{name}` | {t['wall'] / c['wall']:.2f} | {cpu} "
                              f"| {t['rss'] / c['rss']:.2f} |")
    return "\n".join(lines + ratios)


if __name__ == "__main__":
    sys.exit(main())
