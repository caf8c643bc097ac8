"""Speed ratios of two graphinfo checkouts, side by side in one run: ``speed.py`` of each
checkout (each against PyG's DeepGraphInfomax in its own process) shape by shape, the checkouts
alternating, then the ratio of their speed-ups. Answers "is the new code as fast as the old,
relative to the same reference, on this machine now".

    git worktree add /tmp/before <commit>
    python benchmarks/speed_versions.py --before /tmp/before
    python benchmarks/speed_versions.py --before /tmp/before --shapes cora cora-like --rounds 1

Each ``speed.py`` run imports the graphinfo of its checkout (``PYTHONPATH``); ``--rounds 2``
(the default) runs every shape twice, in the order before, after, after, before, so that drift
over the run hits both alike. Writes ``<out>/speed_versions.{json,md}``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHAPES = ("cora-like", "pubmed-like", "arxiv-like", "cora")


def run_speed(checkout: Path, shape: str, extra: list[str], workdir: Path, tag: str) -> dict:
    """One ``speed.py --shapes shape`` of ``checkout``; returns its JSON report's shape entry."""
    out = workdir / tag
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(checkout / "benchmarks" / "speed.py"), "--shapes", shape,
               "--out", str(out), *extra]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, cwd=checkout, stdout=subprocess.DEVNULL)
    report = json.loads((out / "speed.json").read_text())
    entry = report["shapes"][shape]
    entry["wall_s"] = time.perf_counter() - started
    return entry


def speedups(entry: dict) -> dict[str, float]:
    """Training and inference speed-ups (PyG / graphinfo) and the memory ratio of a report."""
    timing = entry.get("timing", entry)
    out = {"train": timing["ratio"]}
    if timing.get("inference_ratio") is not None:
        out["inference"] = timing["inference_ratio"]
    memory = entry.get("memory") or {}
    if memory.get("ratio") is not None:
        out["memory"] = memory["ratio"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="checkout of the earlier code")
    parser.add_argument("--after", default=str(HERE.parent),
                        help="checkout of the later code (default: this one)")
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("speed_args", nargs=argparse.REMAINDER,
                        help="after '--': arguments for speed.py (e.g. -- --epochs 10)")
    args = parser.parse_args(argv)
    extra = [a for a in args.speed_args if a != "--"]
    checkouts = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    results: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes:
            results[shape] = {"before": [], "after": []}
            order = []
            for round_ in range(args.rounds):
                order += ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
            for index, version in enumerate(order):
                entry = run_speed(checkouts[version], shape, extra, Path(tmp),
                                  f"{shape}-{version}-{index}")
                results[shape][version].append(speedups(entry))
                print(f"[{shape}] {version}: {speedups(entry)}", flush=True)
    rows = []
    for shape, versions in results.items():
        row = {"shape": shape}
        for kind in ("train", "inference", "memory"):
            values = {v: [r[kind] for r in runs if kind in r] for v, runs in versions.items()}
            if all(values.values()):
                before = statistics.median(values["before"])
                after = statistics.median(values["after"])
                row[kind] = {"before": before, "after": after, "after_over_before": after / before,
                             "runs": values}
        rows.append(row)
    report = {"command": "python benchmarks/speed_versions.py " + " ".join(
        argv if argv is not None else sys.argv[1:]), "before": str(checkouts["before"]),
        "after": str(checkouts["after"]), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "rows": rows}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed_versions.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["# Speed-up over PyG's DeepGraphInfomax: two graphinfo checkouts in one run", "",
             f"Command: `{report['command']}`  ", f"Date: {report['date']}  ",
             f"Before: `{report['before']}`; after: `{report['after']}`", "",
             "Each cell: median over the runs of `speed.py`'s ratio (training: PyG s/epoch ÷ "
             "graphinfo s/epoch; inference likewise; memory: graphinfo peak RSS ÷ PyG's), "
             "and after ÷ before (for speed-ups, below 1 means slower than before).", "",
             "| shape | train before | train after | after/before | inference before | "
             "inference after | after/before | memory before | memory after |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        cells = [row["shape"]]
        for kind in ("train", "inference"):
            entry = row.get(kind)
            cells += [f"{entry['before']:.2f}", f"{entry['after']:.2f}",
                      f"{entry['after_over_before']:.3f}"] if entry else ["—"] * 3
        memory = row.get("memory")
        cells += [f"{memory['before']:.2f}", f"{memory['after']:.2f}"] if memory else ["—"] * 2
        lines.append("| " + " | ".join(cells) + " |")
    (out / "speed_versions.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
