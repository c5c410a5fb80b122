"""Where a stepwise process's peak heap goes, by source file: a heaptrack recording's peak
cost, each allocation charged to the deepest frame of its stack whose file is one of the
workspace's own (crates/*/src/**.rs; mod.rs, lib.rs and main.rs are too common a name to tell
apart and are skipped).

Usage: python3 tests/scale/heap_breakdown.py RECORDING.zst [TOP]
(needs heaptrack_print; docs/SCALE.md, "Where the memory goes", has the whole procedure)
"""

import collections
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
OURS = {p.name for p in ROOT.glob("crates/*/src/**/*.rs")} - {"mod.rs", "lib.rs", "main.rs"}
FRAME = re.compile(r"\(([A-Za-z0-9_]+\.rs)\)\s*$")


def main():
    recording, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 12
    with tempfile.NamedTemporaryFile(suffix=".folded") as folded:
        subprocess.run(["heaptrack_print", "-f", recording, "-a", "0", "-T", "0", "-l", "0", "-p", "0",
                        "-F", folded.name, "--flamegraph-cost-type", "peak"],
                       check=True, stdout=subprocess.DEVNULL)
        by_file, by_function, total = collections.Counter(), collections.Counter(), 0
        for line in open(folded.name, errors="replace"):
            stack, _, cost = line.rstrip("\n").rpartition(" ")
            if not cost.isdigit():
                continue
            total += int(cost)
            for frame in reversed(stack.split(";")):
                m = FRAME.search(frame)
                if m and m.group(1) in OURS:
                    function = re.sub(r"<.*", "", frame.split(" (")[0])
                    by_file[m.group(1)] += int(cost)
                    by_function[f"{function} ({m.group(1)})"] += int(cost)
                    break
            else:
                by_file["(other)"] += int(cost)
    print(f"peak heap: {total / 2**20:.1f} MiB")
    for title, counter in (("by file", by_file), ("by function", by_function)):
        print(f"-- {title}")
        for name, cost in counter.most_common(top):
            print(f"{cost / 2**20:8.1f} MiB {100 * cost / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
