"""Where a process's resident memory is, and what grew between two moments.

    python3 scripts/memory_breakdown.py snapshot PID > before.json
    python3 scripts/memory_breakdown.py snapshot PID > after.json
    python3 scripts/memory_breakdown.py diff before.json after.json

A snapshot is /proc/PID/smaps (every mapping's Rss, Anonymous and file-backed part) plus the
process's thread names. `diff` sums Rss by what each mapping is — a shared library (its basename),
another file, the heap, a thread stack, a malloc arena or other anonymous memory — and prints the
groups whose Rss changed, largest first, then the threads that came or went.

How anonymous mappings are told apart (glibc on Linux):
- a thread stack is a read-write mapping directly above a one-page `---p` guard, sized like
  `ulimit -s` (glibc caches exited threads' stacks, so a stack may outlive its thread);
- a malloc arena (`heap_info`) is a read-write mapping at a 64 MiB-aligned address
  (HEAP_MAX_SIZE on 64-bit) followed by its reserved `---p` rest;
- everything else anonymous is "anon": big malloc blocks (mmap threshold), library pools, Swift
  allocations that bypassed malloc.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict

ARENA_ALIGN = 64 << 20
PAGE = 4096


def snapshot(pid: int) -> dict:
    mappings = []
    current = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
                start, end = (int(x, 16) for x in parts[0].split("-"))
                current = {"start": start, "end": end, "perms": parts[1],
                           "name": parts[5] if len(parts) > 5 else "", "rss": 0, "anon": 0}
                mappings.append(current)
            elif parts[0] == "Rss:":
                current["rss"] = int(parts[1])
            elif parts[0] == "Anonymous:":
                current["anon"] = int(parts[1])
    threads = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                threads.append(f.read().strip())
        except OSError:
            pass
    return {"pid": pid, "mappings": mappings, "threads": threads}


def classify(mappings: list[dict]) -> list[tuple[str, dict]]:
    labelled = []
    previous = None
    for m in mappings:
        name = m["name"]
        if name.startswith("/"):
            label = os.path.basename(name)
            if ".so" not in label and m["anon"] == 0:
                label = "file " + label
            if m["anon"]:
                # Copy-on-write pages of a library's data (relocations, .data/.bss writes).
                labelled.append((label + " (written)", {**m, "rss": m["anon"]}))
                m = {**m, "rss": m["rss"] - m["anon"]}
        elif name in ("[heap]", "[stack]", "[vdso]", "[vvar]", "[vsyscall]"):
            label = name
        elif m["perms"].startswith("rw"):
            size = m["end"] - m["start"]
            guarded = (previous is not None and previous["end"] == m["start"]
                       and previous["perms"].startswith("---") and previous["name"] == "")
            if m["start"] % ARENA_ALIGN == 0:
                label = "malloc arena"
            elif guarded and previous["end"] - previous["start"] <= 64 * 1024 and size >= 64 * 1024:
                label = f"thread stack ({(size + PAGE) >> 10} KiB)"
            else:
                label = "anon"
        else:
            label = "anon " + m["perms"]
        labelled.append((label, m))
        previous = m
    return labelled


def totals(snap: dict) -> dict[str, tuple[int, int]]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for label, m in classify(snap["mappings"]):
        sums[label][0] += m["rss"]
        sums[label][1] += 1
    return {k: (v[0], v[1]) for k, v in sums.items()}


def diff(before: dict, after: dict) -> None:
    a, b = totals(before), totals(after)
    rows = []
    for label in set(a) | set(b):
        (ra, na), (rb, nb) = a.get(label, (0, 0)), b.get(label, (0, 0))
        if ra != rb:
            rows.append((rb - ra, label, ra, rb, na, nb))
    rows.sort(key=lambda r: -abs(r[0]))
    total_a = sum(r for r, _ in a.values())
    total_b = sum(r for r, _ in b.values())
    anon = lambda s: sum(m["anon"] for m in s["mappings"])
    print(f"Rss {total_a / 1024:.1f} → {total_b / 1024:.1f} MiB ({(total_b - total_a) / 1024:+.1f}); "
          f"anonymous {anon(before) / 1024:.1f} → {anon(after) / 1024:.1f} MiB")
    print(f"{'change KiB':>10} {'before':>8} {'after':>8}  mappings  what")
    for delta, label, ra, rb, na, nb in rows:
        if abs(delta) >= 64:
            print(f"{delta:>+10} {ra:>8} {rb:>8}  {na:>3}→{nb:<3}   {label}")
    gone = sorted(set(before["threads"]) - set(after["threads"]))
    came = [t for t in after["threads"] if t not in before["threads"]]
    print(f"threads {len(before['threads'])} → {len(after['threads'])}; new: {came}; gone: {gone}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "snapshot":
        json.dump(snapshot(int(sys.argv[2])), sys.stdout)
    elif len(sys.argv) == 4 and sys.argv[1] == "diff":
        with open(sys.argv[2]) as f, open(sys.argv[3]) as g:
            diff(json.load(f), json.load(g))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
