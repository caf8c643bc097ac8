"""GRACE on an ogbn-arxiv-shaped graph: seconds per epoch and peak memory of its exact chunked
loss, its sub-sampled loss and its neighbour-sampled mini-batches (one mode per run; each run
adds its row to a section of ``benchmarks/results/scale.md``).

**Graph.** ``scale.py``'s ``arxiv-like`` graph (``synthetic_graphs.make_graph``: 169,343 nodes,
2,332,486 directed Chung–Lu edges, 128 dense Gaussian features), built in the process.

**Model.** ``graphinfo.models.GRACE(128, in_channels=128)``: a 2-layer GCN (256 then 128
units, ReLU), a 128-unit ELU projection head, two views by edge dropping (0.2 / 0.4) and
feature masking (0.3 / 0.4), temperature 0.5, intra- and inter-view negatives; Adam 1e-3.
The dense loss would hold four :math:`N \\times N` similarity matrices, :math:`4 \\cdot 4 N^2`
bytes = 459 GB here, so it is never run. Modes:

* ``chunked``: the exact loss over every node, anchors ``--chunk-size`` rows at a time, each
  chunk recomputed in the backward pass (``GRACE(chunk_size=...)``), memory
  :math:`O(\\text{chunk} \\times N)`; ``fit`` on the whole graph, one step per epoch;
* ``sampled``: the loss of ``--sample-size`` random nodes per step against each other
  (``GRACE(sample_size=...)``), the encoder still on the whole graph; one step per epoch;
* ``minibatch``: ``fit_minibatch`` on neighbour-sampled subgraphs of ``--batch-size`` seeds
  (``--fanout`` neighbours per layer), seeds contrasted within the batch; an epoch is every
  node once as a seed, or, beyond ``--max-steps`` batches, a fixed random subset of seeds with
  the time scaled by ``N / subset``.

**Memory.** The process builds the graph and the model, records its RSS (the *data baseline*),
resets the peak (``/proc/self/clear_refs``), trains ``--epochs`` epochs and reports the peak
RSS (``VmHWM``).

    python benchmarks/scale_grace.py --mode sampled --sample-size 4096 --epochs 3
    python benchmarks/scale_grace.py --mode minibatch --batch-size 1024 --epochs 1
    python benchmarks/scale_grace.py --mode chunked --chunk-size 1024 --epochs 1
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data

sys.path.insert(0, str(Path(__file__).parent))
import speed  # noqa: E402  (the benchmarks' shared machine and memory helpers)
from synthetic_graphs import make_graph  # noqa: E402

ARXIV = {"nodes": 169_343, "edges": 2_332_486, "features": 128}
SECTION_START = "<!-- scale_grace.py: start -->"
SECTION_END = "<!-- scale_grace.py: end -->"
MODES = ("chunked", "sampled", "minibatch")
#: The acceptance budget of the peak.
BUDGET_GIB = 8


def run(args: argparse.Namespace) -> dict[str, Any]:
    from graphinfo.models import GRACE
    from graphinfo.runtime import tune_cpu_allocator
    from graphinfo.train import fit, fit_minibatch

    if args.threads:
        torch.set_num_threads(args.threads)
    allocator = {"setting": "tuned", "applied": tune_cpu_allocator()}
    nodes = int(ARXIV["nodes"] * args.fraction)
    edges = int(ARXIV["edges"] * args.fraction)
    graph = make_graph(nodes, edges, ARXIV["features"], "gaussian", seed=args.seed)
    data = Data(x=graph.x, edge_index=graph.edge_index, num_nodes=nodes)
    del graph
    torch.manual_seed(args.seed)
    options = {"chunked": {"chunk_size": args.chunk_size},
               "sampled": {"sample_size": args.sample_size}, "minibatch": {}}[args.mode]
    model = GRACE(128, in_channels=ARXIV["features"], **options)
    baseline = speed.current_rss_kib()
    reset = speed.reset_peak_rss()
    cpu0 = os.times()
    steps, seeds = 1, None
    if args.mode == "minibatch":
        steps = -(-nodes // args.batch_size)
        if steps > args.max_steps:
            seeds = torch.randperm(nodes, generator=torch.Generator().manual_seed(1))[
                :args.max_steps * args.batch_size]
        history = fit_minibatch(model, data, batch_size=args.batch_size,
                                num_neighbors=[args.fanout, args.fanout], epochs=args.epochs,
                                lr=1e-3, patience=None, input_nodes=seeds, progress=False)
    else:
        history = fit(model, data, epochs=args.epochs, lr=1e-3, patience=None,
                      progress=False)
    cpu1 = os.times()
    peak = speed.peak_rss_kib()
    scale = nodes / seeds.numel() if seeds is not None else 1.0
    epoch_s = sorted(history.epoch_times)[len(history.epoch_times) // 2] * scale
    setting = {"chunked": f"chunk {args.chunk_size}", "sampled": f"{args.sample_size} nodes",
               "minibatch": f"batch {args.batch_size}, fanout {args.fanout}x2"}[args.mode]
    return {
        "command": "python benchmarks/scale_grace.py " + " ".join(args.argv),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": speed.machine_info("cpu", allocator), "mode": args.mode,
        "setting": setting, "fraction": args.fraction, "nodes": nodes,
        "edges": int(data.edge_index.size(1)), "epochs": args.epochs,
        "steps_per_epoch": steps, "steps_run": min(steps, args.max_steps),
        "scaled": seeds is not None, "seconds_per_epoch": epoch_s,
        "epoch_times": history.epoch_times, "losses": history.losses,
        "baseline_mib": baseline / 1024 if baseline else None, "peak_mib": peak / 1024,
        "peak_reset": reset, "cpu_user_s": cpu1.user - cpu0.user,
        "cpu_sys_s": cpu1.system - cpu0.system, "load_avg": list(os.getloadavg()),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [SECTION_START,
             "## GRACE on an ogbn-arxiv-shaped graph (exact chunked, sub-sampled and "
             "mini-batch losses)", "",
             "Graph: `scale.py`'s arxiv-like shape (Chung–Lu degrees, 128 Gaussian features) "
             "× the fraction. Model: `GRACE(128, in_channels=128)` (2-layer GCN 256/128, ELU "
             "projection 128, edge drop 0.2/0.4, feature mask 0.3/0.4, tau 0.5), Adam 1e-3. "
             f"The dense loss would need 4 N² float32 similarities: "
             f"{16 * ARXIV['nodes'] ** 2 / 1e9:,.0f} GB at the full shape. Peak = VmHWM after "
             "a reset at the data baseline; each row is its own process (command in the "
             "row).", "",
             "| mode | setting | nodes | directed edges | s/epoch | CPU user / sys s | data "
             f"baseline (MiB) | peak RSS (MiB) | within {BUDGET_GIB} GiB | load avg | command |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|"]
    for row in rows:
        scaled = "*" if row["scaled"] else ""
        lines.append(
            f"| {row['mode']} | {row['setting']} | {row['nodes']:,} | {row['edges']:,} | "
            f"{row['seconds_per_epoch']:.1f}{scaled} | {row['cpu_user_s']:.0f} / "
            f"{row['cpu_sys_s']:.0f} | {row['baseline_mib']:,.0f} | {row['peak_mib']:,.0f} | "
            f"{'yes' if row['peak_mib'] < BUDGET_GIB * 1024 else 'no'} | "
            f"{row['load_avg'][0]:.2f} | `{row['command']}` |")
    machine = rows[-1]["machine"]
    lines += ["", f"Machine: {machine.get('cpu')}, torch threads "
              f"{machine.get('torch_threads')}; a load average above the thread count means "
              "other jobs ran beside it (times are then pessimistic; peaks are not affected).",
              "\\* an epoch of more than `--max-steps` batches ran on a fixed random subset "
              "of seeds and its time is scaled to every node.",
              "The exact chunked loss at the full shape is not in the table: one epoch is about "
              "4 N² F multiply-adds forward and three times that with the recomputing "
              f"backward, {16 * ARXIV['nodes'] ** 2 * ARXIV['features'] / 1e12:,.0f} TFLOP, "
              "hours on two CPU cores; its memory is O(chunk × N), as the 1/10 row shows "
              "for its shape.", SECTION_END, ""]
    return "\n".join(lines)


def write(report: dict[str, Any], out: Path) -> list[dict[str, Any]]:
    store = out / "scale_grace.json"
    rows = json.loads(store.read_text()) if store.exists() else []
    rows = [row for row in rows if (row["mode"], row["setting"], row["fraction"]) !=
            (report["mode"], report["setting"], report["fraction"])] + [report]
    rows.sort(key=lambda row: (MODES.index(row["mode"]), row["fraction"]))
    speed.write_atomic(store, json.dumps(rows, indent=2) + "\n")
    target = out / "scale.md"
    text = target.read_text(encoding="utf-8") if target.exists() else ""
    section = markdown(rows)
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        text = head + section + rest.split(SECTION_END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    speed.write_atomic(target, text)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="of ogbn-arxiv's node and edge counts (default 1)")
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--sample-size", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--fanout", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=50,
                        help="mini-batches per epoch at most (the rest scaled; default 50)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    report = run(args)
    report["wall_s"] = time.perf_counter() - started
    rows = write(report, Path(args.out))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
