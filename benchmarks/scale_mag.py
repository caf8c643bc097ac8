"""DMGI on an ogbn-mag-shaped heterogeneous graph with metapath-sampled mini-batches: seconds per
epoch and peak memory (also run as ``benchmarks/scale.py --mag``).

**Graph.** A deterministic synthetic ``HeteroData`` with OGB's ogbn-mag counts multiplied by
``--fraction``: 736,389 papers (128 Gaussian features, 349 classes), 1,134,649 authors, 8,740
institutions, 59,965 fields of study; 7,145,660 author-writes-paper, 5,416,271
paper-cites-paper (symmetrised), 7,505,078 paper-has_topic-field and 1,043,998
author-affiliated_with-institution edges, each cross-type relation also reversed, as
:func:`graphinfo.data.ogbn.hetero_graph` stores the real one. Endpoints are drawn uniformly
(no degree skew), so walks are cheaper than on the real graph's hubs only in their variance.

**Model and training.** ``graphinfo.models.DMGI`` (64 units, attention pooling, the authors'
Adam 5e-4 with weight decay 1e-4) built with ``metapaths=['PAP', 'PFP']``: the metapath graphs
are never built (PAP alone would have hundreds of millions of entries); each step samples
``--walks`` walks per seed and metapath (:mod:`graphinfo.metapath_sampler`) for
``--batch-size`` seeds, through ``graphinfo.train.fit_minibatch``. An epoch is every paper once
as a seed; with more than ``--max-steps`` batches the epoch runs on a fixed random subset of
``max_steps * batch_size`` seeds and its time is scaled by ``N / subset``.

**Memory.** The process builds the graph, records its RSS (the *data baseline*), resets the peak
(``/proc/self/clear_refs``), trains and reports the peak RSS (``VmHWM``).

    python benchmarks/scale.py --mag                    # the full ogbn-mag shape
    python benchmarks/scale_mag.py --fraction 0.25      # a quarter of it

The table goes into ``benchmarks/results/scale.md`` (its own section, which ``scale.py`` keeps)
and the numbers into ``benchmarks/results/scale_mag.json``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import HeteroData

sys.path.insert(0, str(Path(__file__).parent))
import speed  # noqa: E402  (the benchmarks' shared machine and memory helpers)

#: ogbn-mag's node and edge counts (OGB's dataset page).
MAG_NODES = {"paper": 736_389, "author": 1_134_649, "institution": 8_740,
             "field_of_study": 59_965}
MAG_EDGES = {("author", "writes", "paper"): 7_145_660, ("paper", "cites", "paper"): 5_416_271,
             ("paper", "has_topic", "field_of_study"): 7_505_078,
             ("author", "affiliated_with", "institution"): 1_043_998}
SECTION_START = "<!-- scale_mag.py: start -->"
SECTION_END = "<!-- scale_mag.py: end -->"


def mag_like(fraction: float, seed: int = 0, features: int = 128) -> HeteroData:
    """The synthetic graph of the module docstring, ``fraction`` of ogbn-mag's size."""
    generator = torch.Generator().manual_seed(seed)
    counts = {t: max(2, int(round(n * fraction))) for t, n in MAG_NODES.items()}
    data = HeteroData()
    for node_type, count in counts.items():
        data[node_type].num_nodes = count
    papers = counts["paper"]
    data["paper"].x = torch.randn(papers, features, generator=generator)
    data["paper"].y = torch.randint(0, 349, (papers,), generator=generator)
    for (src, rel, dst), count in MAG_EDGES.items():
        edges = max(1, int(round(count * fraction)))
        edge_index = torch.stack([torch.randint(0, counts[src], (edges,), generator=generator),
                                  torch.randint(0, counts[dst], (edges,), generator=generator)])
        if src == dst:
            data[src, rel, dst].edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
        else:
            data[src, rel, dst].edge_index = edge_index
            data[dst, f"rev_{rel}", src].edge_index = edge_index.flip(0)
    data.target_node_type = "paper"
    return data


def run(args: argparse.Namespace) -> dict[str, Any]:
    from graphinfo.models import DMGI
    from graphinfo.runtime import tune_cpu_allocator
    from graphinfo.train import fit_minibatch

    if args.threads:
        torch.set_num_threads(args.threads)
    allocator = {"setting": "tuned", "applied": tune_cpu_allocator()}
    started = time.perf_counter()
    data = mag_like(args.fraction, args.seed)
    build_s = time.perf_counter() - started
    papers = data["paper"].num_nodes
    edges = sum(int(data[t].num_edges) for t in data.edge_types)
    torch.manual_seed(args.seed)
    model = DMGI.from_data(data, metapaths=["PAP", "PFP"], hidden_channels=64)
    baseline = speed.current_rss_kib()
    reset = speed.reset_peak_rss()
    steps = -(-papers // args.batch_size)
    seeds = None
    if steps > args.max_steps:
        seeds = torch.randperm(papers, generator=torch.Generator().manual_seed(1))[
            :args.max_steps * args.batch_size]
    cpu0 = os.times()
    history = fit_minibatch(model, data, batch_size=args.batch_size,
                            num_neighbors=[args.walks], epochs=args.epochs, lr=5e-4,
                            weight_decay=1e-4, patience=None, input_nodes=seeds,
                            progress=False)
    cpu1 = os.times()
    peak = speed.peak_rss_kib()
    scale = papers / seeds.numel() if seeds is not None else 1.0
    epoch_s = sorted(history.epoch_times)[len(history.epoch_times) // 2] * scale
    return {
        "command": "python benchmarks/scale_mag.py " + " ".join(args.argv),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": speed.machine_info("cpu", allocator),
        "fraction": args.fraction, "papers": papers, "nodes": sum(
            int(data[t].num_nodes) for t in data.node_types), "edges": edges,
        "batch_size": args.batch_size, "walks": args.walks, "epochs": args.epochs,
        "steps_per_epoch": steps, "steps_run": min(steps, args.max_steps),
        "seconds_per_epoch": epoch_s, "epoch_times": history.epoch_times,
        "scaled": seeds is not None, "losses": history.losses,
        "build_seconds": build_s, "baseline_mib": baseline / 1024 if baseline else None,
        "peak_mib": peak / 1024, "peak_reset": reset,
        "cpu_user_s": cpu1.user - cpu0.user, "cpu_sys_s": cpu1.system - cpu0.system,
        "load_avg": list(os.getloadavg()), "python": platform.python_version(),
    }


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    scaled = "*" if report["scaled"] else ""
    return "\n".join([
        SECTION_START,
        "## DMGI on an ogbn-mag-shaped heterogeneous graph (metapath-sampled mini-batches)",
        "",
        f"Command: `{report['command']}`  ", f"Date: {report['date']}  ",
        f"Machine: {m.get('cpu')}, torch threads {m.get('torch_threads')}; "
        f"load average {report['load_avg'][0]:.2f} at the end (other jobs ran beside it when "
        f"above the thread count)",
        "",
        "Graph: `benchmarks/scale_mag.py` (ogbn-mag's counts × the fraction, uniform endpoints, "
        "128 paper features, every cross-type relation reversed). Model: `DMGI.from_data(data, "
        "metapaths=['PAP', 'PFP'], hidden_channels=64)`, attention pooling, Adam 5e-4, weight "
        "decay 1e-4, `fit_minibatch(batch_size, num_neighbors=[walks])`; PAP and PFP are "
        "sampled as walks, never built. Peak = VmHWM after a reset at the data baseline.",
        "",
        "| fraction | papers | all nodes | directed edges | batch | walks | s/epoch | CPU user / "
        "sys s | data baseline (MiB) | peak RSS (MiB) | within 20 GiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {report['fraction']:g} | {report['papers']:,} | {report['nodes']:,} | "
        f"{report['edges']:,} | {report['batch_size']} | {report['walks']} | "
        f"{report['seconds_per_epoch']:.1f}{scaled} | {report['cpu_user_s']:.0f} / "
        f"{report['cpu_sys_s']:.0f} | {report['baseline_mib']:,.0f} | "
        f"{report['peak_mib']:,.0f} | {'yes' if report['peak_mib'] < 20 * 1024 else 'no'} |",
        "",
        (f"\\* each epoch ran {report['steps_run']} of its {report['steps_per_epoch']} batches "
         f"(a fixed random subset of seeds); its time is scaled to all papers."
         if report["scaled"] else "Every epoch ran all its batches."),
        f"Epoch losses: {', '.join(f'{v:.3f}' for v in report['losses'])}.",
        SECTION_END, ""])


def write(report: dict[str, Any], out: Path) -> None:
    speed.write_atomic(out / "scale_mag.json", json.dumps(report, indent=2) + "\n")
    target = out / "scale.md"
    text = target.read_text(encoding="utf-8") if target.exists() else ""
    section = markdown(report)
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        tail = rest.split(SECTION_END, 1)[1].lstrip("\n")
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    speed.write_atomic(target, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="of ogbn-mag's node and edge counts (default 1)")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--walks", type=int, default=10, help="walks per seed and metapath")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=100,
                        help="batches per epoch at most (the rest scaled; default 100)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    # The command recorded: these arguments (scale.py --mag passes them on without --mag).
    args.argv = list(sys.argv[1:] if argv is None else argv)
    report = run(args)
    write(report, Path(args.out))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
