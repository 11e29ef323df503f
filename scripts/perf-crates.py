#!/usr/bin/env python3
"""Charges `perf script` samples to crates and prints microseconds per request.

Used by scripts/profile-vs-ceiling, which leaves in one directory the `perf script`
output of each process (<name>.txt) and scim-bench's progress lines (progress.txt).
"""
import collections
import re
import sys
from pathlib import Path

# Frames that never name who did the work: the standard library is called by everyone.
GENERIC = {"std", "core", "alloc"}
CRATE = re.compile(r"^<?(?:impl )?([a-z_][a-z0-9_]*)::")


def crate_of(symbol):
    """The crate a frame belongs to, or None for libc, kernel and generic frames."""
    if symbol.startswith("sqlite3") or symbol.startswith("pcache1"):
        return "sqlite3"
    if symbol.startswith("mi_") or symbol.startswith("_mi_"):
        return "mimalloc"
    m = CRATE.match(symbol)
    if m and m.group(1) not in GENERIC:
        return m.group(1)
    return None


def samples(path):
    """Yields each sample's frames, innermost first."""
    frames = []
    for line in path.read_text(errors="replace").splitlines():
        if line[:1] in (" ", "\t"):
            parts = line.strip().split(" ", 1)
            if len(parts) == 2:
                frames.append(re.sub(r"\+0x[0-9a-f]+ \(.*\)$| \(.*\)$", "", parts[1]))
            continue
        # A blank line or the next sample's header ends the current sample.
        if frames:
            yield frames
        frames = []
    if frames:
        yield frames


def shares(path):
    """Fraction of the process's samples charged to each crate."""
    counts = collections.Counter()
    total = 0
    for frames in samples(path):
        total += 1
        owner = next((c for c in map(crate_of, frames) if c), "other")
        counts[owner] += 1
    return {k: v / total for k, v in counts.items()} if total else {}


def cpu_per_request(progress):
    """CPU ms per request of each (part, process), from scim-bench's progress lines;
    the first measurement of a part wins."""
    out = {}
    for line in progress.splitlines():
        line = line.strip()
        if "CPU ms/request:" not in line:
            continue
        label, _, cpu = line.partition("CPU ms/request:")
        for part in cpu.split(","):
            name, _, value = part.strip().rpartition(" ")
            key = (label.split(":")[0], name)
            out.setdefault(key, float(value))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: perf-crates.py <directory left by scripts/profile-vs-ceiling>")
    work = Path(sys.argv[1])
    progress = (work / "progress.txt").read_text()
    cpu = cpu_per_request(progress)
    scenario_line = next(
        l.strip().split(":")[0]
        for l in progress.splitlines()
        if "CPU ms/request:" in l and "identity-service" in l
    )
    columns = [
        ("scim-gateway", (scenario_line, "scim-gateway")),
        ("ceiling HTTP", ("ceiling (b)", "ceiling HTTP")),
        ("identity-service", (scenario_line, "identity-service")),
        ("ceiling gRPC", ("ceiling (b)", "ceiling gRPC")),
    ]
    files = ["scim-gateway", "ceiling-http", "identity-service", "ceiling-grpc"]
    table = {}
    for (title, key), f in zip(columns, files):
        ms = cpu[key]
        table[title] = {k: v * ms * 1000 for k, v in shares(work / f"{f}.txt").items()}
    crates = sorted(
        {c for col in table.values() for c in col},
        key=lambda c: -(table["scim-gateway"].get(c, 0) + table["identity-service"].get(c, 0)),
    )
    print(f"µs of CPU per request of {scenario_line}, next to ceiling (b)\n")
    print("| crate | " + " | ".join(t for t, _ in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for c in crates:
        cells = [f"{table[t].get(c, 0):.1f}" for t, _ in columns]
        print(f"| {c} | " + " | ".join(cells) + " |")
    totals = [f"**{sum(table[t].values()):.1f}**" for t, _ in columns]
    print("| total | " + " | ".join(totals) + " |")


if __name__ == "__main__":
    main()
