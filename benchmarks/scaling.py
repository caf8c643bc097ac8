"""How graphinfo's DGI epoch time and peak memory grow with the number of edges.

Points from 1e4 to 1e7 directed edges (1-3 steps) on synthetic heavy-tailed graphs from
``synthetic_graphs.py`` with a fixed average degree (nodes = edges / 14, like ogbn-arxiv),
128 dense Gaussian features and 256 hidden units; the model is ``graphinfo.DGI(256,
in_channels=128)`` with its defaults, trained with the optimiser its ``fit`` uses (fused Adam,
lr 1e-3) and the loop of ``speed.py``.

Each point runs in a fresh child process (this script with ``--_child``), one after another:
it records its resident set size after the imports (the baseline) and after building the graph,
trains ``--warmup`` epochs, then times a few more (fewer for the largest points) and reports the
median seconds per epoch and its peak RSS (``VmHWM``; see ``speed.py`` for why not
``ru_maxrss``), or ``torch.cuda.max_memory_allocated`` on CUDA.

A least-squares line is fitted to log(time) against log(edges), and to log(peak − baseline)
against log(edges), over the points with at least ``--fit-min-edges`` edges (default 1e5, where
fixed per-epoch costs no longer dominate) and over all points; a slope of 1.0 is linear scaling.
Results go to ``<out>/scaling.{md,json}`` and a log-log plot to ``<out>/scaling.png`` (needs
matplotlib) after every point.

    python benchmarks/scaling.py                     # 1e4 ... 1e7 edges (minutes)
    python benchmarks/scaling.py --max-edges 1e6
    python benchmarks/scaling.py --quick             # smoke test, seconds
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402
from synthetic_graphs import make_graph  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_POINTS = (1e4, 3e4, 1e5, 3e5, 1e6, 3e6, 1e7)
QUICK_POINTS = (2e3, 5e3, 1e4, 2e4)
AVERAGE_DEGREE = 14
FEATURES = 128
HIDDEN = 256


def nodes_for(edges: int) -> int:
    return max(8, round(edges / AVERAGE_DEGREE))


def epochs_for(edges: int) -> int:
    """Timed epochs per point: fewer for the largest graphs."""
    if edges <= 3e5:
        return 5
    if edges <= 3e6:
        return 3
    return 2


def require_matplotlib() -> Any:
    """Imports matplotlib with a headless backend, or exits with how to install it."""
    try:
        import matplotlib
    except ImportError:
        sys.exit("scaling.py: the plot needs matplotlib: pip install matplotlib "
                 "(or pip install -e '.[bench]'); --no-plot skips it")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --------------------------------------------------------------------------------------------
# Child: one point
# --------------------------------------------------------------------------------------------

def run_point(edges: int, args: argparse.Namespace) -> dict[str, Any]:
    """Runs inside the child: builds the graph, trains graphinfo's DGI, returns the readings."""
    allocator = speed.configure_allocator(args.allocator)
    speed.configure_threads(args.threads)
    device = torch.device(args.device)
    import graphinfo  # noqa: F401 -- part of the baseline, like in speed.py

    epochs = args.epochs or epochs_for(edges)
    import_rss = speed.current_rss_kib()
    graph = make_graph(nodes_for(edges), edges, FEATURES, "gaussian", seed=args.seed)
    num_nodes, num_edges = graph.num_nodes, graph.num_edges
    x, edge_index = graph.x.to(device), graph.edge_index.to(device)
    del graph
    gc.collect()
    speed.synchronize(device)
    data_rss, data_hwm = speed.current_rss_kib(), speed.peak_rss_kib()
    cuda = device.type == "cuda"
    data_cuda = torch.cuda.memory_allocated(device) if cuda else None
    hwm_reset = speed.reset_peak_rss()
    model, opt = speed.build_model("graphinfo", FEATURES, HIDDEN, device, args.seed)

    def step() -> None:
        speed.train_epoch(model, opt, x, edge_index)

    warm = [speed.timed_epoch(step, device) for _ in range(args.warmup)]
    times = [speed.timed_epoch(step, device) for _ in range(epochs)]
    train_hwm = speed.peak_rss_kib()
    return {
        "edges_target": edges, "edges": num_edges, "nodes": num_nodes,
        "features": FEATURES, "hidden": HIDDEN, "allocator": allocator,
        "warmup_s": warm, "epoch_s": times, "median_s": statistics.median(times),
        "import_rss_kib": import_rss, "data_rss_kib": data_rss,
        "data_peak_rss_kib": data_hwm,
        "train_peak_rss_kib": train_hwm if hwm_reset else None,
        "peak_rss_kib": max(data_hwm, train_hwm), "ru_maxrss_kib": speed.ru_maxrss_kib(),
        "cuda_data_bytes": data_cuda,
        "cuda_peak_bytes": torch.cuda.max_memory_allocated(device) if cuda else None,
    }


def child_argv(args: argparse.Namespace, edges: int) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--_child", str(edges),
            "--device", args.device, "--allocator", args.allocator, "--seed", str(args.seed),
            "--warmup", str(args.warmup)]
    if args.epochs:
        argv += ["--epochs", str(args.epochs)]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    return argv


# --------------------------------------------------------------------------------------------
# Fits, report, plot
# --------------------------------------------------------------------------------------------

def memory_values(point: dict[str, Any], cuda: bool) -> tuple[float, float] | None:
    """(peak − baseline, peak − data) in MiB, or None for a failed point."""
    if "error" in point:
        return None
    if cuda:
        peak, data = point["cuda_peak_bytes"] / 2**20, point["cuda_data_bytes"] / 2**20
        return peak, peak - data
    peak = point["peak_rss_kib"] / 1024
    return peak - point["import_rss_kib"] / 1024, peak - point["data_rss_kib"] / 1024


def loglog_fit(xs: list[float], ys: list[float]) -> dict[str, Any] | None:
    """Least-squares line through (log x, log y) over the positive pairs."""
    pairs = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y > 0]
    if len(pairs) < 2:
        return None
    mx = sum(p[0] for p in pairs) / len(pairs)
    my = sum(p[1] for p in pairs) / len(pairs)
    sxx = sum((p[0] - mx) ** 2 for p in pairs)
    if sxx == 0:
        return None
    slope = sum((p[0] - mx) * (p[1] - my) for p in pairs) / sxx
    intercept = my - slope * mx
    ss_tot = sum((p[1] - my) ** 2 for p in pairs)
    ss_res = sum((p[1] - intercept - slope * p[0]) ** 2 for p in pairs)
    return {"slope": slope, "intercept": intercept, "points": len(pairs),
            "r2": 1 - ss_res / ss_tot if ss_tot > 0 else 1.0}


def fits(points: list[dict[str, Any]], min_edges: float, cuda: bool) -> dict[str, Any]:
    """Slopes of time, memory above baseline and training memory, over two point ranges."""
    ok = [p for p in points if "error" not in p]
    series = {
        "time": [(p["edges"], p["median_s"]) for p in ok],
        "memory": [(p["edges"], memory_values(p, cuda)[0]) for p in ok],
        "training_memory": [(p["edges"], memory_values(p, cuda)[1]) for p in ok],
    }
    result: dict[str, Any] = {}
    for name, values in series.items():
        large = [v for v in values if v[0] >= min_edges]
        result[name] = {
            "large": loglog_fit([v[0] for v in large], [v[1] for v in large]),
            "all": loglog_fit([v[0] for v in values], [v[1] for v in values]),
        }
    return result


def _slope(fit: dict[str, Any] | None) -> str:
    return "—" if fit is None else f"{fit['slope']:.2f} ({fit['points']} pts, R² {fit['r2']:.3f})"


def markdown(report: dict[str, Any]) -> str:
    cuda = report["settings"]["device"].startswith("cuda")
    unit = "ms" if cuda else "s"
    scale = 1e3 if cuda else 1.0
    min_edges = report["settings"]["fit_min_edges"]
    peak_label = "peak CUDA alloc." if cuda else "peak RSS"
    base_label = "baseline (0 on CUDA)" if cuda else "import baseline"
    lines = [
        *speed.report_header("graphinfo DGI: epoch time and peak memory against edge count",
                             report),
        f"Synthetic heavy-tailed graphs, nodes = edges / {AVERAGE_DEGREE}, {FEATURES} dense "
        f"Gaussian features, hidden {HIDDEN}; graphinfo.DGI defaults, fused Adam lr 1e-3 "
        "(as in fit). One fresh "
        f"process per point; median {unit}/epoch after {report['settings']['warmup']} warm-up "
        f"epochs; memory = {peak_label} minus the {base_label} (RSS after the imports); "
        "training memory = peak minus the RSS once the graph is built.",
        "",
        f"| directed edges | nodes | timed epochs | {unit}/epoch | {base_label} (MiB) "
        f"| graph data (MiB) | {peak_label} (MiB) | memory (MiB) | training memory (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for p in report["points"]:
        if "error" in p:
            notes.append(f"- {int(p['edges_target']):,} edges: {p['error']}")
            continue
        mem, train = memory_values(p, cuda)
        if cuda:
            base, data, peak = 0.0, p["cuda_data_bytes"] / 2**20, p["cuda_peak_bytes"] / 2**20
        else:
            base = p["import_rss_kib"] / 1024
            data = (p["data_rss_kib"] - p["import_rss_kib"]) / 1024
            peak = p["peak_rss_kib"] / 1024
        lines.append(f"| {p['edges']:,} | {p['nodes']:,} | {len(p['epoch_s'])} "
                     f"| {scale * p['median_s']:.4g} | {base:.0f} | {data:.0f} | {peak:.0f} "
                     f"| {mem:.0f} | {train:.0f} |")
    f = report["fits"]
    lines += [
        "",
        "Log-log least-squares slopes (1.0 = linear in the edge count):",
        "",
        f"| quantity | edges ≥ {min_edges:.0e} | all points |",
        "|---|---|---|",
        f"| {unit}/epoch | {_slope(f['time']['large'])} | {_slope(f['time']['all'])} |",
        f"| memory | {_slope(f['memory']['large'])} | {_slope(f['memory']['all'])} |",
        f"| training memory | {_slope(f['training_memory']['large'])} "
        f"| {_slope(f['training_memory']['all'])} |",
    ]
    if notes:
        lines += ["", "Failed points:", "", *notes]
    return "\n".join(lines) + "\n"


def _fit_line(ax: Any, xs: list[float], fit: dict[str, Any] | None, label: str,
              style: str) -> None:
    if fit is None:
        return
    lo, hi = min(xs), max(xs)
    ys = [math.exp(fit["intercept"]) * x ** fit["slope"] for x in (lo, hi)]
    ax.plot([lo, hi], ys, style, color="black" if style == "-" else "grey",
            label=f"{label}: slope {fit['slope']:.2f}")


def plot(report: dict[str, Any], path: Path) -> None:
    plt = require_matplotlib()
    cuda = report["settings"]["device"].startswith("cuda")
    ok = [p for p in report["points"] if "error" not in p]
    if not ok:
        return
    min_edges = report["settings"]["fit_min_edges"]
    edges = [p["edges"] for p in ok]
    large = [e for e in edges if e >= min_edges] or edges
    unit, scale = ("ms", 1e3) if cuda else ("s", 1.0)
    f = report["fits"]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.5))
    ax_t.plot(edges, [scale * p["median_s"] for p in ok], "o", color="C0", label="measured")
    for key, xs, style, label in (("large", large, "-", f"fit ≥ {min_edges:.0e}"),
                                  ("all", edges, "--", "fit, all points")):
        fit = f["time"][key]
        if fit is not None:
            fit = {**fit, "intercept": fit["intercept"] + math.log(scale)}
        _fit_line(ax_t, xs, fit, label, style)
    ax_t.set(xscale="log", yscale="log", xlabel="directed edges", ylabel=f"{unit} / epoch",
             title="epoch time")
    mem = [memory_values(p, cuda) for p in ok]
    ax_m.plot(edges, [m[0] for m in mem], "o", color="C1", label="peak − baseline")
    ax_m.plot(edges, [m[1] for m in mem], "s", color="C2", label="peak − graph data",
              alpha=0.6)
    _fit_line(ax_m, large, f["memory"]["large"], f"fit ≥ {min_edges:.0e}", "-")
    _fit_line(ax_m, edges, f["memory"]["all"], "fit, all points", "--")
    ax_m.set(xscale="log", yscale="log", xlabel="directed edges", ylabel="MiB",
             title="peak CUDA memory" if cuda else "peak RSS")
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"graphinfo DGI, nodes = edges / {AVERAGE_DEGREE}, {FEATURES} features, "
                 f"hidden {HIDDEN} ({report['settings']['device']})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def save(report: dict[str, Any], out: Path, with_plot: bool) -> None:
    cuda = report["settings"]["device"].startswith("cuda")
    report["fits"] = fits(report["points"], report["settings"]["fit_min_edges"], cuda)
    speed.write_atomic(out / "scaling.json", json.dumps(report, indent=2) + "\n")
    speed.write_atomic(out / "scaling.md", markdown(report))
    if with_plot:
        plot(report, out / "scaling.png")


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def select_points(args: argparse.Namespace) -> list[int]:
    if args.points:
        points = args.points
    else:
        points = QUICK_POINTS if args.quick else DEFAULT_POINTS
    return sorted({int(p) for p in points
                   if (args.max_edges is None or p <= args.max_edges) and p >= 2})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--points", type=float, nargs="+", default=None,
                        help="directed edge counts (default: 1e4 3e4 1e5 3e5 1e6 3e6 1e7)")
    parser.add_argument("--max-edges", type=float, default=None,
                        help="drop points above this many edges")
    parser.add_argument("--epochs", type=int, default=None,
                        help="timed epochs per point (default: 5; 3 from 1e6; 2 above 3e6)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up epochs per point")
    parser.add_argument("--fit-min-edges", type=float, default=None,
                        help="smallest edge count of the 'large' fit (default: 1e5; "
                             "5e3 with --quick)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--allocator", choices=("tuned", "default"), default="tuned",
                        help="tuned: graphinfo.runtime.tune_cpu_allocator() at startup "
                             "(default); default: leave glibc's malloc alone")
    parser.add_argument("--seed", type=int, default=0, help="graph and model seed")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 2e3 to 2e4 edges, 2 timed epochs")
    parser.add_argument("--no-plot", action="store_true", help="skip scaling.png")
    parser.add_argument("--keep-going", action="store_true",
                        help="try the larger points after a point failed (default: stop)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: benchmarks/results; with --quick "
                             "a temporary folder, so smoke tests never overwrite results)")
    parser.add_argument("--_child", type=int, dest="child", default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = str(speed.default_out(args.quick))
    if args.quick and args.epochs is None:
        args.epochs = 2
    if args.fit_min_edges is None:
        args.fit_min_edges = 5e3 if args.quick else 1e5
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda given but CUDA is not available")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        print(speed.CHILD_MARKER + json.dumps(run_point(args.child, args)), flush=True)
        return 0
    with_plot = not args.no_plot
    if with_plot:
        require_matplotlib()  # fail now, not after the measurements
    allocator = speed.configure_allocator(args.allocator)
    speed.configure_threads(args.threads)
    info = speed.machine_info(args.device, allocator)
    points = select_points(args)
    out = Path(args.out)
    report: dict[str, Any] = {
        "benchmark": "scaling",
        "command": speed.command_line(argv, Path(__file__).name),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": info,
        "machine_line": speed.machine_line(info),
        "settings": {**{k: v for k, v in vars(args).items() if k not in ("out", "child")},
                     "average_degree": AVERAGE_DEGREE, "features": FEATURES,
                     "hidden": HIDDEN, "edge_points": points},
        "points": [],
    }
    print(report["machine_line"], flush=True)
    for edges in points:
        print(f"[{edges:,} edges] {nodes_for(edges):,} nodes ...", flush=True)
        point = speed.run_child(child_argv(args, edges))
        point.setdefault("edges_target", edges)
        report["points"].append(point)
        if "error" in point:
            print(f"[{edges:,} edges] failed: {point['error']}", flush=True)
        else:
            print(f"[{edges:,} edges] {point['median_s']:.4f} s/epoch, peak RSS "
                  f"{point['peak_rss_kib'] / 1024:.0f} MiB", flush=True)
        save(report, out, with_plot)
        if "error" in point and not args.keep_going:
            print("stopping after a failed point (--keep-going to continue)", flush=True)
            break
    print()
    print(markdown(report))
    written = ["scaling.md", "scaling.json"] + (["scaling.png"] if with_plot else [])
    print("wrote " + ", ".join(str(out / name) for name in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
