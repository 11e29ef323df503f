"""The table of scripts/bench-ab: medians of alternating old/new scim-bench runs.

Reads the progress lines scim-bench prints for each scenario (`title: N req/s, p50 X ms,
p99 Y ms, E errors; CPU ms/request: name v, ...`) from `old-N.log` and `new-N.log`.
"""

import collections
import glob
import os
import re
import statistics
import sys

LINE = re.compile(
    r"\s+(.+?): (\d+) req/s, p50 ([\d.]+) ms, p99 ([\d.]+) ms, (\d+) errors; "
    r"CPU ms/request: (.*)"
)


def read(directory):
    rows = collections.defaultdict(lambda: collections.defaultdict(list))
    for path in sorted(glob.glob(os.path.join(directory, "*-[0-9]*.log"))):
        build = os.path.basename(path).split("-")[0]
        for line in open(path, encoding="utf-8"):
            m = LINE.match(line)
            if not m or m.group(1).startswith("ceiling"):
                continue
            cpu = dict(
                (k.strip(), float(v))
                for k, v in (part.rsplit(" ", 1) for part in m.group(6).split(", "))
            )
            rows[m.group(1)][build].append(
                (
                    int(m.group(2)),
                    float(m.group(3)),
                    cpu.get("identity-service", 0.0),
                    cpu.get("scim-gateway", 0.0),
                )
            )
    return rows


def table(rows):
    out = [
        "| scenario | old req/s (each run) | new req/s (each run) | new/old (medians) "
        "| p50 ms old → new | identity-service CPU ms/req old → new "
        "| gateway CPU ms/req old → new |",
        "|---|---|---|---|---|---|---|",
    ]
    for title, builds in rows.items():
        old, new = builds.get("old", []), builds.get("new", [])
        if not old or not new:
            continue

        def med(runs, i):
            return statistics.median(r[i] for r in runs)

        out.append(
            f"| {title} | {', '.join(str(r[0]) for r in old)} "
            f"| {', '.join(str(r[0]) for r in new)} | {med(new, 0) / med(old, 0):.2f} "
            f"| {med(old, 1):.2f} → {med(new, 1):.2f} "
            f"| {med(old, 2):.3f} → {med(new, 2):.3f} "
            f"| {med(old, 3):.3f} → {med(new, 3):.3f} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    print(table(read(sys.argv[1])))
