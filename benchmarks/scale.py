"""Full-batch against mini-batch DGI at the scale of ogbn-arxiv and ogbn-products, and the
planned cost of ogbn-papers100M from the measured per-edge and per-node costs.
(``--mag``: DMGI on an ogbn-mag-shaped heterogeneous graph instead; see ``scale_mag.py``.)

**Graphs.** Deterministic synthetic graphs from ``synthetic_graphs.py`` (Chung–Lu heavy-tailed
degrees, symmetrised, dense Gaussian features) with the shapes of

* ``arxiv-like``: ogbn-arxiv, 169,343 nodes, 2,332,486 directed edges, 128 features (the
  ``arxiv-like`` row of ``speed.py``), and ``arxiv-like-0.02``, 1/50 of it, which pins the
  fixed costs in the fit below;
* ``products-like-<f>``: ogbn-products (2,449,029 nodes, 123,718,280 directed edges, 100
  features) with nodes and edges multiplied by the fraction ``f`` (same nodes : edges :
  features ratios). The largest fraction is ``--products-fraction``; ``auto`` (the default)
  measures the small fraction ``--products-probe`` first and takes the largest of 1, 1/2, 1/4,
  1/8 whose peak, extrapolated linearly from the probe for every mode, stays within
  ``--memory-budget`` GiB (and the memory available at that moment).

Each graph is generated once, in a child process, and saved to ``--cache-dir``; every
measurement loads it from there, so no process's baseline holds the generator's garbage.

**Model.** ``graphinfo.DGI(256, in_channels=F)`` (1-layer GCN + PReLU, fast path by default),
the same hidden size for both modes, Adam lr 1e-3 as the fit functions make it.

**Modes.** Every (shape, mode) runs in a fresh child process (this script with ``--_child``),
one after another, never side by side. The child loads the graph into a
``torch_geometric.data.Data``, records its resident set size (the *data baseline*: imports,
features and ``edge_index``), resets the peak (``/proc/self/clear_refs``), runs the mode and
reports its peak RSS (``VmHWM``, as ``speed.py`` reads it) and its CPU time (``getrusage``).
The peak varies between identical processes (by a few hundred MiB on arxiv-like full-batch), so
arxiv-like's full- and mini-batch runs, which give the acceptance figure, are repeated
``--repeats`` times and the table shows the run with the median peak; both are run again with
the other ``--allocator`` setting (``--no-allocator-check`` skips that), as the figure depends
on it:

* ``full``: ``graphinfo.train.fit(model, data, epochs=warmup + epochs, patience=None)``;
* ``mini``: ``graphinfo.minibatch.fit_minibatch(model, data, batch_size=1024,
  num_neighbors=[10], ...)``. An epoch is every node once as a seed; when that is more than
  ``--max-steps`` batches, each "epoch" runs on a fixed random subset of ``max_steps * 1024``
  seeds (``input_nodes``) and its time is scaled by ``N / subset``;
* ``export``: ``graphinfo.minibatch.embed_layerwise(model, data)`` once (untrained weights:
  the cost does not depend on them), its time and peak;
* ``setup``: what ``fit_minibatch`` builds before its first batch, alone: the self-loop-free
  copy of ``edge_index`` and the sampler's CSC copy of the graph
  (``graphinfo.sampler.TorchNeighborSampler``), to see how much of the mini-batch peak they
  are.

Seconds per epoch are the median of ``History.epoch_times`` over the ``--epochs`` (full-batch)
or ``--mini-epochs`` (mini-batch) epochs after ``--warmup`` warm-up epochs; *setup* is the time
``fit``/``fit_minibatch`` spent outside its epochs (building the sampler; the full-batch
adjacency is built in the first, warm-up epoch).

**Costs.** For each mode, seconds per epoch ``t ~ k + a*E + b*N`` and peak above the data
baseline ``m ~ k' + c*E + d*N`` (E directed edges, N nodes) are fitted by non-negative least
squares on relative errors over the four measured shapes: the anchor pins the fixed costs,
arxiv-like (13.8 edges per node) and products-like (50.5) separate the per-edge from the
per-node term, and the second products fraction checks linearity; the error of the fit at
each shape is reported. The papers100M plan evaluates both at its shape
(111,059,956 nodes, 3,231,371,744 directed edges = 2 x 1,615,685,872 undirected, 128
features), with the baseline computed as imports + 4 B per feature value + 16 B per directed edge.

**Allocator.** As in ``speed.py``: ``graphinfo.runtime.tune_cpu_allocator()`` at start-up
unless ``--allocator default`` (``fit`` and ``fit_minibatch`` would call it anyway).

    python benchmarks/scale.py                           # arxiv-like + products-like (minutes)
    python benchmarks/scale.py --products-fraction 0.25  # a fixed products fraction
    python benchmarks/scale.py --quick                   # smoke test (2-4 minutes)
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402
from synthetic_graphs import make_graph  # noqa: E402

HERE = Path(__file__).resolve().parent
HIDDEN = 256
BATCH_SIZE = 1024
FANOUT = (10,)
MODES = ("full", "mini", "export", "setup")
MODE_LABEL = {"full": "full-batch", "mini": "mini-batch", "export": "export (layer-wise)",
              "setup": "mini-batch setup only"}
FITTED_MODES = ("full", "mini", "export")
QUICK_FACTOR = 50
ANCHOR_FRACTION = 0.02   # a small arxiv-like graph that pins the fixed costs
FRACTION_CANDIDATES = (1.0, 0.5, 0.25, 0.125)
KIB = 1024
GIB_KIB = 1024 * 1024


@dataclass(frozen=True)
class Target:
    """A real dataset's shape (directed edges = 2 x undirected)."""

    name: str
    nodes: int
    edges: int
    features: int


ARXIV = Target("ogbn-arxiv", 169_343, 2_332_486, 128)
PRODUCTS = Target("ogbn-products", 2_449_029, 123_718_280, 100)
PAPERS = Target("ogbn-papers100M", 111_059_956, 3_231_371_744, 128)


@dataclass(frozen=True)
class ScaleShape:
    """A synthetic graph: ``fraction`` of ``target``'s nodes and edges, its feature count."""

    name: str
    target: str
    fraction: float
    nodes: int
    edges: int
    features: int

    def key(self, seed: int) -> str:
        return f"{self.name}-n{self.nodes}-e{self.edges}-f{self.features}-s{seed}"


def make_shape(target: Target, fraction: float, quick: bool) -> ScaleShape:
    scale = fraction / (QUICK_FACTOR if quick else 1)
    base = "arxiv-like" if target is ARXIV else "products-like"
    name = base if target is ARXIV and fraction == 1.0 else f"{base}-{fraction:g}"
    return ScaleShape(name, target.name, fraction, max(8, round(target.nodes * scale)),
                      max(16, round(target.edges * scale)), target.features)


# --------------------------------------------------------------------------------------------
# Children
# --------------------------------------------------------------------------------------------

def cache_file(args: argparse.Namespace, shape: ScaleShape) -> Path:
    return Path(args.cache_dir) / f"{shape.key(args.seed)}.pt"


def build_child(shape: ScaleShape, args: argparse.Namespace) -> dict[str, Any]:
    """Generates the graph and saves it to the cache (run in a child: the generator's
    temporaries die with it)."""
    start = time.perf_counter()
    graph = make_graph(shape.nodes, shape.edges, shape.features, "gaussian", seed=args.seed)
    generate_s = time.perf_counter() - start
    path = cache_file(args, shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"x": graph.x, "edge_index": graph.edge_index}, tmp)
    os.replace(tmp, path)
    return {"nodes": graph.num_nodes, "edges": graph.num_edges, "features": graph.num_features,
            "generate_s": generate_s, "save_s": time.perf_counter() - start - generate_s,
            "peak_rss_kib": speed.peak_rss_kib(), "file_bytes": path.stat().st_size}


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _mini_seeds(num_nodes: int, args: argparse.Namespace) -> torch.Tensor | None:
    """All nodes (None) if an epoch has at most ``--max-steps`` batches, else a fixed random
    subset of ``max_steps * batch`` nodes."""
    if args.max_steps is None or math.ceil(num_nodes / BATCH_SIZE) <= args.max_steps:
        return None
    generator = torch.Generator().manual_seed(args.seed + 1)
    return torch.randperm(num_nodes, generator=generator)[:args.max_steps * BATCH_SIZE]


def measure_child(mode: str, shape: ScaleShape, args: argparse.Namespace) -> dict[str, Any]:
    """Runs inside a child: loads the graph, runs one mode, returns the readings."""
    allocator = speed.configure_allocator(args.allocator)
    speed.configure_threads(args.threads)
    import torch_geometric.nn  # noqa: F401
    from torch_geometric.data import Data

    import graphinfo
    from graphinfo.minibatch import embed_layerwise, fit_minibatch
    from graphinfo.train import fit

    start_rss = speed.current_rss_kib()
    stored = torch.load(cache_file(args, shape), weights_only=True)
    data = Data(x=stored["x"], edge_index=stored["edge_index"])
    del stored
    gc.collect()
    data_rss, data_hwm = speed.current_rss_kib(), speed.peak_rss_kib()
    hwm_reset = speed.reset_peak_rss()
    num_nodes, num_edges = data.num_nodes, data.edge_index.size(1)
    torch.manual_seed(args.seed)
    model = graphinfo.DGI(HIDDEN, in_channels=shape.features)
    result: dict[str, Any] = {
        "mode": mode, "shape": shape.name, "nodes": num_nodes, "edges": num_edges,
        "features": shape.features, "hidden": HIDDEN, "allocator": allocator,
        "loadavg_before": _loadavg(),
    }
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if mode in ("full", "mini"):
        timed_epochs = args.epochs if mode == "full" else args.mini_epochs
        epochs = args.warmup + timed_epochs
        if mode == "full":
            history = fit(model, data, epochs=epochs, patience=None, progress=False)
            scale, seeds = 1.0, num_nodes
        else:
            subset = _mini_seeds(num_nodes, args)
            seeds = num_nodes if subset is None else subset.numel()
            history = fit_minibatch(model, data, batch_size=BATCH_SIZE,
                                    num_neighbors=list(FANOUT), epochs=epochs, patience=None,
                                    progress=False, input_nodes=subset, seed=args.seed)
            scale = num_nodes / seeds
            result.update(batch_size=BATCH_SIZE, num_neighbors=list(FANOUT),
                          seeds_per_epoch=seeds, steps_per_epoch=math.ceil(seeds / BATCH_SIZE),
                          full_epoch_steps=math.ceil(num_nodes / BATCH_SIZE))
        wall = time.perf_counter() - started
        times = list(history.epoch_times)
        timed = times[args.warmup:]
        result.update(
            warmup=args.warmup, epochs=timed_epochs, epoch_s_measured=times, scale=scale,
            median_s=statistics.median(timed) * scale,
            setup_s=wall - sum(times), wall_s=wall, final_loss=history.losses[-1])
    elif mode == "export":
        out = embed_layerwise(model, data)
        result.update(median_s=time.perf_counter() - started, embedding_shape=list(out.shape))
        del out
    elif mode == "setup":
        import copy

        from torch_geometric.utils import remove_self_loops

        from graphinfo.sampler import TorchNeighborSampler

        graph = copy.copy(data)
        graph.edge_index = remove_self_loops(data.edge_index)[0]
        sampler = TorchNeighborSampler(graph, list(FANOUT))
        result.update(setup_s=time.perf_counter() - started,
                      csc_bytes=sum(int(t.numel() * t.element_size()) for t in (
                          sampler.colptr, sampler.row, getattr(sampler, "perm", None))
                          if t is not None))
    else:
        raise ValueError(f"unknown mode {mode!r}")
    train_hwm = speed.peak_rss_kib()
    after = resource.getrusage(resource.RUSAGE_SELF)
    result.update(
        cpu_user_s=after.ru_utime - usage.ru_utime, cpu_sys_s=after.ru_stime - usage.ru_stime,
        minor_faults=after.ru_minflt - usage.ru_minflt, loadavg_after=_loadavg(),
        start_rss_kib=start_rss, data_rss_kib=data_rss,
        data_peak_rss_kib=data_hwm, train_peak_rss_kib=train_hwm if hwm_reset else None,
        peak_rss_kib=train_hwm if hwm_reset else max(data_hwm, train_hwm),
        overhead_kib=(train_hwm if hwm_reset else max(data_hwm, train_hwm)) - data_rss)
    return result


def child_argv(args: argparse.Namespace, role: str, shape: ScaleShape,
               allocator: str | None = None) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--_child", role,
            json.dumps(asdict(shape)), "--allocator", allocator or args.allocator,
            "--seed", str(args.seed),
            "--warmup", str(args.warmup), "--epochs", str(args.epochs),
            "--mini-epochs", str(args.mini_epochs),
            "--cache-dir", str(args.cache_dir)]
    argv += ["--max-steps", str(args.max_steps or 0)]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    return argv


# --------------------------------------------------------------------------------------------
# Cost model and the papers100M plan
# --------------------------------------------------------------------------------------------

def fit_costs(points: list[tuple[int, int, float]]) -> dict[str, Any] | None:
    """Non-negative least squares of ``y ~ k + a*E + b*N`` on relative errors over points
    ``(E, N, y)`` (every subset of the terms is solved and the best non-negative one kept);
    returns the coefficients, the terms kept and each point's relative error."""
    points = [(e, n, y) for e, n, y in points if y > 0]
    if len(points) < 2:
        return None
    design = torch.tensor([[1 / y, e / y, n / y] for e, n, y in points], dtype=torch.float64)
    ones = torch.ones(len(points), 1, dtype=torch.float64)
    best: tuple[float, list[float], list[int]] | None = None
    for columns in ([0, 1, 2], [1, 2], [0, 1], [0, 2], [1], [2], [0]):
        if len(columns) > len(points):
            continue
        sol = torch.linalg.lstsq(design[:, columns], ones).solution.view(-1).tolist()
        if min(sol) < 0:   # a negative cost is not physical
            continue
        coef = [0.0, 0.0, 0.0]
        for column, value in zip(columns, sol):
            coef[column] = value
        residual = float(((design @ torch.tensor(coef, dtype=torch.float64).view(3, 1)
                           - ones) ** 2).sum())
        if best is None or residual < best[0] - 1e-12:
            best = (residual, coef, columns)
    if best is None:
        return None
    _, coef, columns = best
    errors = [(coef[0] + coef[1] * e + coef[2] * n) / y - 1 for e, n, y in points]
    return {"fixed": coef[0], "per_edge": coef[1], "per_node": coef[2],
            "terms": "+".join("kEN"[c] for c in columns), "relative_errors": errors,
            "points": len(points)}


def cost_model(report: dict[str, Any]) -> dict[str, Any]:
    """Fits per-edge and per-node costs of time and memory for each mode over all shapes."""
    model: dict[str, Any] = {}
    for mode in FITTED_MODES:
        runs = [entry["runs"][mode] for entry in report["shapes"].values()
                if mode in entry.get("runs", {}) and "error" not in entry["runs"][mode]]
        model[mode] = {
            "time": fit_costs([(r["edges"], r["nodes"], r["median_s"]) for r in runs]),
            "memory": fit_costs([(r["edges"], r["nodes"], r["overhead_kib"] * KIB)
                                 for r in runs]),
            "shapes": [r["shape"] for r in runs],
        }
    return model


def data_bytes(nodes: int, edges: int, features: int) -> int:
    """float32 features and an int64 (2, E) edge_index."""
    return 4 * nodes * features + 16 * edges


def _model(costs: dict[str, Any], edges: int, nodes: int) -> float:
    return costs["fixed"] + costs["per_edge"] * edges + costs["per_node"] * nodes


def plan(report: dict[str, Any], target: Target = PAPERS) -> dict[str, Any]:
    """Extrapolates each mode to ``target``: the largest measured shape's value times the
    fitted model's growth from there to ``target`` (so the fit's error at that shape does not
    carry over), with the range given by scaling it by the edge and by the node ratio alone;
    says whether the peak fits this machine's RAM."""
    runs = [run for entry in report["shapes"].values()
            for run in entry.get("runs", {}).values() if "error" not in run]
    imports_kib = statistics.median(r["start_rss_kib"] for r in runs) if runs else 0
    data_gib = data_bytes(target.nodes, target.edges, target.features) / 2**30
    baseline_gib = imports_kib / GIB_KIB + data_gib
    ram_gib = report["machine"].get("ram_gib") or 0
    result: dict[str, Any] = {
        "target": asdict(target), "imports_gib": imports_kib / GIB_KIB,
        "features_gib": 4 * target.nodes * target.features / 2**30,
        "edge_index_gib": 16 * target.edges / 2**30, "baseline_gib": baseline_gib,
        "ram_gib": ram_gib, "modes": {},
    }
    for mode, costs in report.get("costs", {}).items():
        entry: dict[str, Any] = {}
        runs = [e["runs"][mode] for e in report["shapes"].values()
                if mode in e.get("runs", {}) and "error" not in e["runs"][mode]]
        if not runs:
            continue
        largest = max(runs, key=lambda r: r["edges"])
        entry["anchor_shape"] = largest["shape"]
        ratios = sorted((target.edges / largest["edges"], target.nodes / largest["nodes"]))
        for key, quantity, measured, unit in (
                ("epoch_s", "time", largest["median_s"], 1.0),
                ("overhead_gib", "memory", largest["overhead_kib"] * KIB, 2**-30)):
            fitted = costs[quantity]
            if not fitted:
                continue
            model_target = _model(fitted, target.edges, target.nodes)
            model_largest = _model(fitted, largest["edges"], largest["nodes"])
            entry[key + "_fit"] = model_target * unit
            entry[key] = measured * model_target / model_largest * unit
            entry[key + "_range"] = [measured * r * unit for r in ratios]
        if "overhead_gib" in entry:
            entry["peak_gib"] = baseline_gib + entry["overhead_gib"]
            entry["fits"] = bool(ram_gib) and entry["peak_gib"] <= ram_gib
            entry["machines_needed"] = math.ceil(entry["peak_gib"] / (0.85 * ram_gib)) \
                if ram_gib else None
        result["modes"][mode] = entry
    return result


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def _mib(kib: float | None) -> str:
    return "—" if kib is None else f"{kib / KIB:,.0f}"


def _secs(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if value < 10 else f"{value:,.1f}"


def _ratio(run_a: dict[str, Any] | None, run_b: dict[str, Any] | None, key: str) -> float | None:
    if not run_a or not run_b or "error" in run_a or "error" in run_b:
        return None
    return run_a[key] / run_b[key] if run_b[key] else None


def _human_s(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _coef_cells(costs: dict[str, Any] | None, fixed_unit: tuple[str, float],
                unit: tuple[str, float]) -> str:
    """``k | a | b | errors`` cells of the cost table."""
    if not costs:
        return "— | — | — | —"
    errors = ", ".join(f"{100 * e:+.0f}%" for e in costs["relative_errors"])
    return (f"{costs['fixed'] * fixed_unit[1]:.3g} {fixed_unit[0]} "
            f"| {costs['per_edge'] * unit[1]:.3g} {unit[0]} "
            f"| {costs['per_node'] * unit[1]:.3g} {unit[0]} | {errors}")


def markdown(report: dict[str, Any]) -> str:
    s = report["settings"]
    lines = [
        *speed.report_header("Scale: full-batch vs mini-batch DGI, arxiv- and products-shaped "
                             "graphs, and a plan for papers100M", report),
        f"Model: `graphinfo.DGI({HIDDEN}, in_channels=F)` (1-layer GCN + PReLU, fast path), "
        f"hidden {HIDDEN} for every mode. Full-batch: `graphinfo.train.fit`. Mini-batch: "
        f"`graphinfo.minibatch.fit_minibatch(batch_size={BATCH_SIZE}, "
        f"num_neighbors={list(FANOUT)})`, an epoch = every node once as a seed. Export: "
        "`graphinfo.minibatch.embed_layerwise` once. s/epoch: median over "
        f"{s['epochs']} (full-batch) or {s['mini_epochs']} (mini-batch) epochs after "
        f"{s['warmup']} warm-up epoch; setup s = time spent outside the epochs (mini-batch: "
        "the sampler; full-batch builds its adjacency inside the warm-up epoch). Memory: a "
        "fresh process "
        "per shape and mode loads the graph (data baseline = its RSS then: imports, features, "
        "edge_index), resets the peak and runs the mode; peak = VmHWM; overhead = peak − "
        "baseline. All runs one after another on an otherwise "
        + ("idle machine (see the load column)." if report.get("idle", True)
           else "busy machine (see the load column and the notes)."),
        "",
        "| shape | nodes | directed edges | features | mode | s/epoch | setup s "
        "| CPU user / sys s (whole run) | data baseline (MiB) | peak RSS (MiB) "
        "| overhead (MiB) | load avg (1 min) |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes: list[str] = []
    for name, entry in report["shapes"].items():
        for mode in MODES:
            run = entry.get("runs", {}).get(mode)
            if run is None:
                continue
            if "error" in run:
                notes.append(f"- {name}, {MODE_LABEL[mode]}: failed — {run['error']}")
                continue
            time_text = "—" if mode == "setup" else _secs(run.get("median_s"))
            if mode == "mini" and run.get("scale", 1.0) != 1.0:
                time_text += "*"
            if mode == "export":
                time_text += " (once)"
            load = run.get("loadavg_before")
            lines.append(
                f"| {name} | {run['nodes']:,} | {run['edges']:,} | {run['features']} "
                f"| {MODE_LABEL[mode]} | {time_text} | {_secs(run.get('setup_s'))} "
                f"| {run['cpu_user_s']:.1f} / {run['cpu_sys_s']:.1f} "
                f"| {_mib(run['data_rss_kib'])} | {_mib(run['peak_rss_kib'])} "
                f"| {_mib(run['overhead_kib'])} | {load[0] if load else '—'} |")
    lines.append("")
    if any(run.get("scale", 1.0) != 1.0 for entry in report["shapes"].values()
           for run in entry.get("runs", {}).values()):
        lines.append("\\* each epoch on a fixed random subset of seeds "
                     f"(`--max-steps {s['max_steps']}` batches of {BATCH_SIZE}), its time "
                     "scaled to all N seeds; the other mini-batch rows are full epochs.")
    arxiv = report["shapes"].get("arxiv-like", {}).get("runs", {})
    peak_ratio = _ratio(arxiv.get("mini"), arxiv.get("full"), "peak_rss_kib")
    over_ratio = _ratio(arxiv.get("mini"), arxiv.get("full"), "overhead_kib")
    time_ratio = _ratio(arxiv.get("mini"), arxiv.get("full"), "median_s")
    lines += ["", "## Mini-batch against full-batch", ""]
    lines += ["| shape | peak RSS mini/full | overhead mini/full | s/epoch mini/full "
              "| mini-batch peak incl. export (MiB) |", "|---|---:|---:|---:|---:|"]
    for name, entry in report["shapes"].items():
        runs = entry.get("runs", {})
        pr = _ratio(runs.get("mini"), runs.get("full"), "peak_rss_kib")
        orr = _ratio(runs.get("mini"), runs.get("full"), "overhead_kib")
        tr = _ratio(runs.get("mini"), runs.get("full"), "median_s")
        both = [runs[m]["peak_rss_kib"] for m in ("mini", "export")
                if m in runs and "error" not in runs[m]]
        lines.append(f"| {name} | {speed._fmt_ratio(pr)} | {speed._fmt_ratio(orr)} "
                     f"| {speed._fmt_ratio(tr)} | {_mib(max(both)) if both else '—'} |")
    if peak_ratio is not None:
        verdict = "meets" if peak_ratio <= 0.40 else "does NOT meet"
        lines += ["", f"**arxiv-like, hidden {HIDDEN}: the peak RSS of mini-batch training is "
                  f"{100 * peak_ratio:.1f}% of full-batch's** "
                  f"({_mib(arxiv['mini']['peak_rss_kib'])} vs "
                  f"{_mib(arxiv['full']['peak_rss_kib'])} MiB; above the data baseline "
                  f"{100 * over_ratio:.1f}%), which {verdict} the target of at most 40%. "
                  f"Mini-batch takes {time_ratio:.1f}x full-batch's time per epoch.", ""]
        repeats = report["shapes"]["arxiv-like"].get("repeats", {})
        peaks = {mode: sorted(r["peak_rss_kib"] for r in repeats.get(mode, [])
                              if "error" not in r) for mode in ("full", "mini")}
        if all(peaks.values()) and max(map(len, peaks.values())) > 1:
            worst = peaks["mini"][-1] / peaks["full"][0]
            lines.append(
                f"- The peak varies between identical fresh processes: full-batch "
                f"{', '.join(_mib(v) for v in peaks['full'])} MiB, mini-batch "
                f"{', '.join(_mib(v) for v in peaks['mini'])} MiB over "
                f"{len(peaks['full'])} runs each (the table shows the median); the worst "
                f"pairing, highest mini-batch over lowest full-batch, is {100 * worst:.1f}%.")
        check = report["shapes"]["arxiv-like"].get("allocator_check")
        if check:
            other = {mode: sorted(r["peak_rss_kib"] for r in check.get(mode, [])
                                  if "error" not in r) for mode in ("full", "mini")}
            times = {mode: statistics.median(r["median_s"] for r in check.get(mode, [])
                                             if "error" not in r)
                     for mode in ("full", "mini") if other[mode]}
            if all(other.values()):
                ratio = statistics.median(other["mini"]) / statistics.median(other["full"])
                lines.append(
                    f"- **With the {check['allocator']} allocator** (`--allocator "
                    f"{check['allocator']}`, {len(other['full'])} fresh processes per mode) "
                    f"the peaks are full-batch {', '.join(_mib(v) for v in other['full'])} "
                    f"MiB and mini-batch {', '.join(_mib(v) for v in other['mini'])} MiB: "
                    f"**{100 * ratio:.1f}%** (median over median; "
                    f"{100 * other['mini'][0] / other['full'][-1]:.1f}–"
                    f"{100 * other['mini'][-1] / other['full'][0]:.1f}% over all pairings), "
                    f"with {times['full']:.3f} and {times['mini']:.1f} s/epoch.")
        setup = arxiv.get("setup")
        if setup and "error" not in setup:
            lines.append(
                f"- Of mini-batch training's {_mib(arxiv['mini']['overhead_kib'])} MiB above "
                f"the baseline, {_mib(setup['overhead_kib'])} MiB is reached before the first "
                "batch (the 'mini-batch setup only' row: the self-loop-free copy of "
                "edge_index and the sampler's CSC arrays with PyG's edge permutation, "
                f"{setup['csc_bytes'] / 2**20:,.0f} MiB).")
        export = arxiv.get("export")
        if export and "error" not in export:
            workflow = max(export["peak_rss_kib"], arxiv["mini"]["peak_rss_kib"])
            lines.append(
                f"- The embedding export (`embed_layerwise`, its own process) peaks at "
                f"{_mib(export['peak_rss_kib'])} MiB"
                + (", above mini-batch training: for a GCN encoder it runs the full-graph "
                   "sparse path (`model.embed`) in one piece, not in chunks"
                   if export["peak_rss_kib"] > arxiv["mini"]["peak_rss_kib"] else "")
                + f"; train-then-export in one process would peak near "
                f"{100 * workflow / arxiv['full']['peak_rss_kib']:.0f}% of full-batch "
                "training.")

    costs = report.get("costs", {})
    lines += ["", "## Per-edge and per-node costs", "",
              "For each mode, s/epoch ≈ k + a·E + b·N and peak − baseline ≈ k + c·E + d·N "
              "(E directed edges, N nodes), fitted by non-negative least squares on relative "
              "errors over the shapes above: the small arxiv-like anchor pins the fixed cost k "
              "(imports of the code paths, model, one batch's working set), arxiv-like (13.8 "
              "edges per node) and products-like (50.5) separate the per-edge from the "
              "per-node term, and two products fractions check linearity. Every subset of the "
              "terms is tried and the best fit with no negative coefficient kept (a negative "
              "cost is not physical); \"terms\" names the ones kept. Point errors are (fit − "
              "measured) / measured, per shape in table order.", "",
              "| mode | quantity | terms | k | a or c (per edge) | b or d (per node) "
              "| point errors |", "|---|---|---|---:|---:|---:|---|"]
    for mode, entry in costs.items():
        for quantity, costs_, fixed_unit, unit in (
                ("s/epoch", entry["time"], ("s", 1.0), ("µs", 1e6)),
                ("peak − baseline", entry["memory"], ("MiB", 2**-20), ("B", 1.0))):
            lines.append(f"| {MODE_LABEL[mode]} | {quantity} "
                         f"| {costs_['terms'] if costs_ else '—'} "
                         f"| {_coef_cells(costs_, fixed_unit, unit)} |")
    papers = report.get("plan")
    if papers:
        t = papers["target"]
        lines += ["", f"## Planned cost: {t['name']} on this machine class", "",
                  f"{t['nodes']:,} nodes, {t['edges']:,} directed edges (2 x "
                  f"{t['edges'] // 2:,} undirected), {t['features']} features. Data baseline "
                  f"= imports ({papers['imports_gib']:.2f} GiB) + features "
                  f"({papers['features_gib']:.1f} GiB float32) + edge_index "
                  f"({papers['edge_index_gib']:.1f} GiB int64) = "
                  f"{papers['baseline_gib']:.1f} GiB; the machine has {papers['ram_gib']} GiB. "
                  "Each estimate is the largest measured shape's value times the fitted "
                  "model's growth from that shape to this one (so the fit's error at that "
                  "shape does not carry over); the range scales that value by the edge ratio "
                  "and by the node ratio alone. Times assume the memory were there.",
                  "", "| mode | from | s/epoch | range | peak − baseline (GiB) | range (GiB) "
                  "| peak (GiB) | fits in RAM "
                  "| machines of this size if split evenly (85% of RAM each) |",
                  "|---|---|---:|---|---:|---|---:|---|---:|"]
        for mode, entry in papers["modes"].items():
            t_range = entry.get("epoch_s_range")
            m_range = entry.get("overhead_gib_range")
            lines.append(
                f"| {MODE_LABEL[mode]} | {entry.get('anchor_shape', '—')} | "
                + (_human_s(entry['epoch_s']) if "epoch_s" in entry else "—") + " | "
                + (f"{_human_s(t_range[0])} – {_human_s(t_range[1])}" if t_range else "—")
                + f" | {entry.get('overhead_gib', float('nan')):,.0f} | "
                + (f"{m_range[0]:,.0f} – {m_range[1]:,.0f}" if m_range else "—")
                + f" | {entry.get('peak_gib', float('nan')):,.0f} "
                f"| {'yes' if entry.get('fits') else 'no'} "
                f"| {entry.get('machines_needed') or '—'} |")
    lines += ["", "## Notes", "", *report.get("notes", []), *notes]
    return "\n".join(lines) + "\n"


def save(report: dict[str, Any], out: Path) -> None:
    speed.write_atomic(out / "scale.json", json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    previous = out / "scale.md"
    if previous.exists():      # keep the sections scale_mag.py (--mag) and scale_grace.py wrote
        import scale_grace
        import scale_mag

        old = previous.read_text(encoding="utf-8")
        for section in (scale_mag, scale_grace):
            if section.SECTION_START in old and section.SECTION_END in old:
                kept = old.split(section.SECTION_START, 1)[1].split(section.SECTION_END, 1)[0]
                text += "\n" + section.SECTION_START + kept + section.SECTION_END + "\n"
    speed.write_atomic(out / "scale.md", text)


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def mem_available_kib() -> int | None:
    value = speed._read_proc("/proc/meminfo", "MemAvailable:")
    return int(value.split()[0]) if value else None


def run_shape(args: argparse.Namespace, shape: ScaleShape, report: dict[str, Any],
              out: Path, modes: tuple[str, ...] = MODES) -> dict[str, Any]:
    entry: dict[str, Any] = {"shape": asdict(shape), "runs": {}}
    report["shapes"][shape.name] = entry
    if not cache_file(args, shape).exists():
        print(f"[{shape.name}] generating {shape.nodes:,} nodes, {shape.edges:,} edges ...",
              flush=True)
        entry["build"] = speed.run_child(child_argv(args, "build", shape))
        if "error" in entry["build"]:
            print(f"[{shape.name}] generation failed: {entry['build']['error']}", flush=True)
            save(report, out)
            return entry
        print(f"[{shape.name}] generated in {entry['build']['generate_s']:.1f} s", flush=True)
    for mode in modes:
        repeats = args.repeats if shape.name == "arxiv-like" and mode in ("full", "mini") else 1
        runs = [speed.run_child(child_argv(args, mode, shape)) for _ in range(repeats)]
        good = sorted((r for r in runs if "error" not in r), key=lambda r: r["peak_rss_kib"])
        run = good[(len(good) - 1) // 2] if good else runs[0]   # the median (lower) peak
        entry["runs"][mode] = run
        if repeats > 1:
            entry.setdefault("repeats", {})[mode] = runs
        if "error" in run:
            print(f"[{shape.name}] {mode}: {run['error']}", flush=True)
        else:
            print(f"[{shape.name}] {mode}: "
                  + (f"{run['median_s']:.3f} s/epoch, " if "median_s" in run else "")
                  + f"peak {_mib(run['peak_rss_kib'])} MiB (baseline "
                  f"{_mib(run['data_rss_kib'])}), load {run['loadavg_before']}"
                  + (f"; peaks of {repeats} runs: "
                     + ", ".join(_mib(r["peak_rss_kib"]) for r in good) if repeats > 1 else ""),
                  flush=True)
        save(report, out)
    return entry


def allocator_check(args: argparse.Namespace, shape: ScaleShape, entry: dict[str, Any],
                    report: dict[str, Any], out: Path) -> None:
    """arxiv-like's full- and mini-batch peaks again with the other allocator setting."""
    other = "default" if args.allocator == "tuned" else "tuned"
    check: dict[str, Any] = {"allocator": other}
    entry["allocator_check"] = check
    for mode in ("full", "mini"):
        check[mode] = [speed.run_child(child_argv(args, mode, shape, allocator=other))
                       for _ in range(args.repeats)]
        good = [r for r in check[mode] if "error" not in r]
        print(f"[{shape.name}] {mode} with the {other} allocator: peaks "
              + ", ".join(_mib(r["peak_rss_kib"]) for r in good) + " MiB, "
              + ", ".join(f"{r['median_s']:.3f}" for r in good) + " s/epoch", flush=True)
        save(report, out)


def choose_fraction(args: argparse.Namespace, probe: dict[str, Any]) -> tuple[float, str]:
    """The largest candidate fraction whose extrapolated peak fits (see the docstring)."""
    runs = [r for r in probe["runs"].values() if "error" not in r]
    if not runs:
        return args.products_probe, "the probe failed; no larger fraction tried"
    available = mem_available_kib()
    budget_kib = args.memory_budget * GIB_KIB
    if available is not None:
        budget_kib = min(budget_kib, available - GIB_KIB)
    lines = []
    for fraction in FRACTION_CANDIDATES:
        factor = fraction / args.products_probe
        predicted = max(r["start_rss_kib"] + (r["peak_rss_kib"] - r["start_rss_kib"]) * factor
                        for r in runs)
        lines.append(f"{fraction:g}: {predicted / GIB_KIB:.1f} GiB")
        if predicted <= budget_kib or fraction <= args.products_probe:
            return fraction, (
                f"largest fraction whose peak, extrapolated linearly from the "
                f"{args.products_probe:g} probe (max over modes), fits "
                f"{budget_kib / GIB_KIB:.1f} GiB (--memory-budget {args.memory_budget:g}, "
                f"MemAvailable {available / GIB_KIB if available else float('nan'):.1f} GiB "
                f"minus 1): predicted " + ", ".join(lines))
    return args.products_probe, "no candidate fits; probe only"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--products-fraction", default="auto",
                        help="fraction of ogbn-products' nodes and edges for the large shape, "
                             "or 'auto' (default; see above)")
    parser.add_argument("--products-probe", type=float, default=0.0625,
                        help="small products fraction measured first (default 1/16); 0 skips it "
                             "(then --products-fraction must be a number)")
    parser.add_argument("--memory-budget", type=float, default=20.0,
                        help="GiB a measuring process may reach, for 'auto' (default 20)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="timed full-batch epochs (default 3)")
    parser.add_argument("--mini-epochs", type=int, default=2,
                        help="timed mini-batch epochs (default 2)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up epochs (default 1)")
    parser.add_argument("--max-steps", type=int, default=200,
                        help="mini-batch: time at most this many batches per epoch and scale "
                             "(default 200: full epochs up to 204,800 nodes; 0 = always full "
                             "epochs)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh processes for arxiv-like's full- and mini-batch runs (the "
                             "40%% figure; the peak varies from run to run); the table shows "
                             "the median peak (default 3)")
    parser.add_argument("--no-allocator-check", dest="allocator_check", action="store_false",
                        help="skip repeating arxiv-like's full- and mini-batch runs with the "
                             "other --allocator setting")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--allocator", choices=("tuned", "default"), default="tuned",
                        help="as in speed.py (default: tuned)")
    parser.add_argument("--seed", type=int, default=0, help="graph and model seed")
    parser.add_argument("--cache-dir", default=None,
                        help="where generated graphs are kept (default: a temporary folder, "
                             "removed at the end; a given folder is kept and reused)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: nodes and edges / 50, 1 + 1 epochs, at most 5 "
                             "mini-batch steps per epoch")
    parser.add_argument("--out", default=None,
                        help="output folder (default: benchmarks/results; with --quick a "
                             "temporary folder)")
    parser.add_argument("--_child", nargs=2, metavar=("ROLE", "SHAPE"), dest="child",
                        default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.max_steps == 0:
        args.max_steps = None
    if args.products_fraction != "auto":
        try:
            args.products_fraction = float(args.products_fraction)
        except ValueError:
            parser.error("--products-fraction must be 'auto' or a number in (0, 1]")
        if not 0 < args.products_fraction <= 1:
            parser.error("--products-fraction must be in (0, 1]")
    elif not args.products_probe:
        parser.error("--products-fraction auto needs a --products-probe")
    if args.quick and not args.child:
        args.epochs, args.mini_epochs, args.warmup, args.max_steps = 1, 1, 1, 5
        args.repeats = min(args.repeats, 2)
    if args.out is None:
        args.out = str(speed.default_out(args.quick))
    return args


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if "--mag" in arguments:    # DMGI on the ogbn-mag-shaped heterogeneous graph
        import scale_mag

        return scale_mag.main([a for a in arguments if a != "--mag"])
    args = parse_args(argv)
    if args.child:
        role, shape = args.child[0], ScaleShape(**json.loads(args.child[1]))
        result = build_child(shape, args) if role == "build" else measure_child(role, shape,
                                                                                 args)
        print(speed.CHILD_MARKER + json.dumps(result), flush=True)
        return 0
    started = time.perf_counter()
    own_cache = args.cache_dir is None
    if own_cache:
        args.cache_dir = tempfile.mkdtemp(prefix="graphinfo-scale-")
    allocator = speed.configure_allocator(args.allocator)
    speed.configure_threads(args.threads)
    info = speed.machine_info("cpu", allocator)
    out = Path(args.out)
    report: dict[str, Any] = {
        "benchmark": "scale",
        "command": speed.command_line(argv, Path(__file__).name),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": info, "machine_line": speed.machine_line(info),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "child")},
        "targets": {t.name: asdict(t) for t in (ARXIV, PRODUCTS, PAPERS)},
        "loadavg_start": _loadavg(), "shapes": {}, "notes": [],
    }
    print(report["machine_line"], flush=True)
    try:
        run_shape(args, make_shape(ARXIV, ANCHOR_FRACTION, args.quick), report, out)
        arxiv = run_shape(args, make_shape(ARXIV, 1.0, args.quick), report, out)
        if args.allocator_check:
            allocator_check(args, make_shape(ARXIV, 1.0, args.quick), arxiv, report, out)
        fraction = args.products_fraction
        if args.products_probe and (fraction == "auto" or fraction > args.products_probe):
            probe = run_shape(args, make_shape(PRODUCTS, args.products_probe, args.quick),
                              report, out)
            if fraction == "auto":
                fraction, why = choose_fraction(args, probe)
                report["notes"].append(f"- products fraction {fraction:g}: {why}.")
                print(f"products fraction: {fraction:g} ({why})", flush=True)
        if fraction != args.products_probe:
            run_shape(args, make_shape(PRODUCTS, fraction, args.quick), report, out)
        report["products_fraction"] = fraction
        report["costs"] = cost_model(report)
        report["plan"] = plan(report)
    finally:
        if own_cache:
            shutil.rmtree(args.cache_dir, ignore_errors=True)
    report["loadavg_end"] = _loadavg()
    report["runtime_s"] = time.perf_counter() - started
    loads = [r["loadavg_before"][0] for e in report["shapes"].values()
             for r in e.get("runs", {}).values() if r.get("loadavg_before")]
    report["idle"] = bool(loads) and max(loads) < 0.5 * (info["usable_cores"] or 1) + 1
    report["notes"] += notes_for(report)
    save(report, out)
    print()
    print(markdown(report))
    print(f"wrote {out / 'scale.md'} and {out / 'scale.json'} "
          f"({report['runtime_s'] / 60:.1f} min)")
    return 0


def notes_for(report: dict[str, Any]) -> list[str]:
    """Notes every report carries: fractions, generation times, sizes, load."""
    notes, shapes, builds, cscs = [], [], [], []
    quick = " (each divided by 50 for --quick)" if report["settings"]["quick"] else ""
    for name, entry in report["shapes"].items():
        shape, build = entry["shape"], entry.get("build", {})
        shapes.append(f"{name} {shape['fraction']:g} x {shape['target']}")
        if "generate_s" in build:
            builds.append(f"{name} {build['generate_s']:.1f} s (peak "
                          f"{_mib(build['peak_rss_kib'])} MiB)")
        setup = entry.get("runs", {}).get("setup")
        if setup and "csc_bytes" in setup:
            cscs.append(f"{name} {setup['csc_bytes'] / 2**20:,.0f} MiB")
    notes.append(f"- Shapes (a fraction of the dataset's nodes and edges{quick}, its feature "
                 f"count): {'; '.join(shapes)}. "
                 f"{make_shape(ARXIV, ANCHOR_FRACTION, False).name} anchors the fixed costs "
                 "of the fit.")
    if builds:
        notes.append("- Generation (Chung–Lu, once per shape, then cached): "
                     + "; ".join(builds) + ".")
    if cscs:
        notes.append("- The sampler's CSC arrays (colptr, row and the edge permutation PyG "
                     "keeps, all int64): " + "; ".join(cscs)
                     + ". The 'mini-batch setup only' rows add the self-loop-free edge_index "
                     "copy and the sort that builds them.")
    threshold = 1 << 30   # graphinfo.runtime's mmap threshold
    for name, entry in report["shapes"].items():
        run = entry.get("runs", {}).get("full")
        if (run and "error" not in run and report["settings"]["allocator"] == "tuned"
                and 4 * run["nodes"] * HIDDEN > threshold
                and run["cpu_sys_s"] > 0.2 * (run["cpu_user_s"] + run["cpu_sys_s"])):
            notes.append(
                f"- {name}, full-batch: each N x {HIDDEN} float32 activation "
                f"({4 * run['nodes'] * HIDDEN / 2**30:.2f} GiB) is above the 1 GiB mmap "
                "threshold that graphinfo.runtime.tune_cpu_allocator sets, so glibc maps it "
                "afresh and the kernel faults and zeroes it again every epoch, the cost that "
                f"tuning removes on smaller graphs: {run['cpu_sys_s']:.0f} s of system CPU "
                f"against {run['cpu_user_s']:.0f} s user over the run "
                f"({run['minor_faults']:,} minor page faults). Its s/epoch is therefore "
                "higher than the per-edge and per-node costs of the smaller shapes predict.")
    papers, costs = report.get("plan"), report.get("costs", {})
    if papers and papers["modes"].get("full", {}).get("machines_needed") and not any(
            m.get("fits") for m in papers["modes"].values()):
        mini_mem = costs.get("mini", {}).get("memory") or {}
        setup = [e["runs"]["setup"] for e in report["shapes"].values()
                 if "setup" in e.get("runs", {}) and "error" not in e["runs"]["setup"]]
        big = max(setup, key=lambda r: r["edges"]) if setup else None
        mini_run = report["shapes"][big["shape"]]["runs"].get("mini") if big else None
        mini_run = mini_run if mini_run and "error" not in mini_run else None
        t = papers["target"]
        notes.append(
            f"- {t['name']} fits neither mode on one {papers['ram_gib']} GiB machine: the "
            f"float32 features alone are {papers['features_gib']:.0f} GiB and the int64 "
            f"edge_index {papers['edge_index_gib']:.0f} GiB, before any training memory. "
            "graphinfo's distributed mode (DDP over torch.distributed in fit_minibatch) gives "
            "every process the whole graph, so more machines shorten a mini-batch epoch but do "
            "not lower the memory per machine. What it would take: for mini-batch, features "
            "memory-mapped from disk (torch.from_file or numpy.memmap: fit_minibatch takes any "
            "dense strided x and the loader gathers only the sampled rows) and a CSC built "
            "once offline and memory-mapped, with int32 node ids (colptr "
            f"{8 * (t['nodes'] + 1) / 2**30:.1f} GiB + row {4 * t['edges'] / 2**30:.0f} GiB), "
            "in place of the in-RAM edge_index, fit_minibatch's self-loop-free copy of it and "
            "the sampler's CSC copy"
            + (f" (together {big['overhead_kib'] * KIB / big['edges']:.0f} B per edge above "
               f"the baseline on {big['shape']})" if big else "")
            + (f". On {big['shape']} the setup alone reaches {_mib(big['overhead_kib'])} MiB "
               f"above the baseline, mini-batch training {_mib(mini_run['overhead_kib'])} MiB; "
               "one batch's working set is of the order of the fitted fixed cost "
               f"({mini_mem['fixed'] / 2**20:.0f} MiB)" if big and mini_run and mini_mem
               else "")
            + ". For full-batch: the graph and its activations partitioned over about "
            f"{papers['modes']['full']['machines_needed']} machines of this size (a "
            "distributed full-graph GCN exchanging boundary rows), which graphinfo does not "
            "implement. A mini-batch epoch over all nodes as seeds is long on 2 cores; "
            "self-supervised training would take a fixed budget of steps per epoch "
            "(input_nodes) instead.")
    notes.append(f"- Run time {report['runtime_s'] / 60:.1f} min; load average (1, 5, 15 min) "
                 f"{report['loadavg_start']} at the start, {report['loadavg_end']} at the end "
                 f"({'idle' if report['idle'] else 'NOT idle: other processes were running'}).")
    return notes


if __name__ == "__main__":
    sys.exit(main())
