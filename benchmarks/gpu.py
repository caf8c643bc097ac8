"""GPU training speed and peak memory: PyG's reference Deep Graph Infomax against graphinfo's DGI
on one CUDA device, from Cora to a full-batch ogbn-products-shaped graph, plus mini-batch
products. One prepared script that finishes in minutes (``--budget-s``, default 420 s).

**Model and loop.** As in ``speed.py``: one GCN layer + PReLU, sigmoid-mean summary,
node-shuffle corruption, bilinear critic, BCE/JSD loss, Adam lr 1e-3, and the same step for
every implementation (``opt.zero_grad(); loss = model.loss(*model(x, a)); loss.backward();
opt.step()``):

* ``pyg``: ``torch_geometric.nn.DeepGraphInfomax`` with the encoder of PyG's
  ``examples/infomax_transductive.py`` (``GCNConv(cached=True)`` + ``PReLU``) on ``edge_index``,
  as the example runs it (one message per edge: an E x hidden tensor);
* ``pyg-csr``: the same model given the transposed adjacency as a ``torch.sparse_csr_tensor``
  (``GCNConv`` then aggregates with a sparse-dense product, cuSPARSE on the GPU): what a PyG user
  can do on a large graph without ``torch-sparse``; building the CSR tensor counts as its setup;
* ``graphinfo``: ``graphinfo.DGI(hidden, in_channels=F)`` with its defaults and the optimiser
  its ``fit`` uses (``graphinfo.train.make_optimizer``).

**Shapes.** The real Cora and PubMed (``--root``; skipped with a note when absent), and
synthetic graphs from ``synthetic_graphs.py`` (Chung–Lu heavy-tailed degrees, Gaussian
features) drawn on the device: ``arxiv-like`` (169,343 nodes, 2,332,486 directed edges, 128
features, hidden 256) and ``products-like`` (ogbn-products: 2,449,029 nodes, 123,718,280
directed edges, 100 features, hidden 256).

**Time.** Each implementation in turn (the others' models freed): ``setup`` (model, optimiser
and, for ``pyg-csr``, the CSR adjacency), the first epoch alone (it builds the caches: PyG's
normalised edges, graphinfo's CSR operators), more warm-up epochs, then the timed epochs, each
between ``torch.cuda.synchronize`` calls; the median is reported, and ``speed-up`` = PyG
median / graphinfo median. Inference: the median of 3 full-graph embedding exports in eval mode
without gradient (graphinfo ``model.embed``, PyG ``model.encoder``).

**Memory.** ``torch.cuda.max_memory_allocated`` from just after the graph is on the device
(the *data baseline*, ``memory_allocated`` when the run starts: the graph, and the vendor
libraries' workspaces once an earlier run created them) to the end of that implementation's run;
``overhead`` = peak - baseline. A run that exhausts the device's memory is reported as OOM
with the peak it reached, and the next one starts after ``torch.cuda.empty_cache()``.

**Same model.** On Cora, PubMed and the arxiv shape, after the timings, graphinfo's fast path
is checked against its general path (PyG's message passing) on the device: the same weights
and permutation, loss and gradients over 2 Adam steps (``parity`` in the JSON).

**Exit status** 1 when a run failed other than by running out of memory, or the fast path
differed from the general one; 0 otherwise.

**Mini-batch.** ``graphinfo.minibatch.fit_minibatch`` on products-like with the model on the
GPU and the graph in host memory (neighbour sampling on the CPU, ``batch_size=1024``,
``num_neighbors=[10]``): an "epoch" runs ``--mini-steps`` batches on a fixed random subset of
seeds and its time is scaled to all N seeds. PyG's own ``NeighborLoader`` needs ``pyg-lib``
or ``torch-sparse``; whether they are installed is recorded.

**Budget.** A step that would start after ``--budget-s`` seconds is skipped and listed; the
results are written after every step to ``<out>/gpu.json`` and ``<out>/gpu.md``.

    python benchmarks/gpu.py --out /tmp/gpu          # on a CUDA machine (minutes)
    python benchmarks/gpu.py --device cpu --dry      # the dry run: every step, small graphs
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402
from synthetic_graphs import Graph, make_graph  # noqa: E402

IMPLS = ("graphinfo", "pyg-csr", "pyg")
IMPL_LABEL = {"pyg": "PyG (edge_index)", "pyg-csr": "PyG (CSR adjacency)",
              "graphinfo": "graphinfo"}
BATCH_SIZE = 1024
FANOUT = (10,)
#: Shapes on which the fast path is checked against the general one (products-like: the general
#: path, PyG's message passing, does not fit).
PARITY_SHAPES = ("cora", "pubmed", "arxiv-like")
DRY_FACTORS = {"real": 50, "arxiv-like": 50, "products-like": 2000}


@dataclass(frozen=True)
class GpuShape:
    """A benchmark graph: a real dataset (``kind='real'``) or a synthetic Gaussian one."""

    name: str
    nodes: int
    edges: int
    features: int
    kind: str
    hidden: int
    warmup: int
    epochs: int


SHAPES: dict[str, GpuShape] = {s.name: s for s in (
    GpuShape("cora", 2_708, 10_556, 1_433, "real", 512, warmup=5, epochs=50),
    GpuShape("pubmed", 19_717, 88_648, 500, "real", 512, warmup=5, epochs=50),
    GpuShape("arxiv-like", 169_343, 2_332_486, 128, "gaussian", 256, warmup=3, epochs=20),
    GpuShape("products-like", 2_449_029, 123_718_280, 100, "gaussian", 256, warmup=2,
             epochs=5),
)}


def dry_shape(shape: GpuShape) -> GpuShape:
    """The shape with nodes and edges divided by its dry-run factor, and 1 + 2 epochs."""
    factor = DRY_FACTORS["real" if shape.kind == "real" else shape.name]
    return GpuShape(shape.name, max(8, shape.nodes // factor), max(16, shape.edges // factor),
                    shape.features, shape.kind, shape.hidden, warmup=1, epochs=2)


# --------------------------------------------------------------------------------------------
# Device helpers
# --------------------------------------------------------------------------------------------

def free_device_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


def allocated(device: torch.device) -> int | None:
    return torch.cuda.memory_allocated(device) if device.type == "cuda" else None


def peak_allocated(device: torch.device) -> int | None:
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def is_out_of_memory(err: BaseException) -> bool:
    return isinstance(err, (torch.cuda.OutOfMemoryError, MemoryError)) or \
        "out of memory" in str(err).lower()


def failure(err: BaseException, device: torch.device) -> dict[str, Any]:
    """What a failed run reports: OOM or the error, its first line, and the peak reached."""
    lines = str(err).strip().splitlines()
    result: dict[str, Any] = {
        "error": "out of memory" if is_out_of_memory(err) else type(err).__name__,
        "detail": lines[0][:300] if lines else "",
        "peak_bytes": peak_allocated(device),
    }
    if not is_out_of_memory(err):
        result["traceback"] = traceback.format_exc().splitlines()[-12:]
    return result


def csr_adjacency(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """The transposed adjacency (row = target) as a sparse CSR tensor, as ``GCNConv`` takes it."""
    from torch_geometric.utils import to_torch_csr_tensor

    return to_torch_csr_tensor(edge_index.flip(0), size=(num_nodes, num_nodes))


# --------------------------------------------------------------------------------------------
# One implementation on one graph
# --------------------------------------------------------------------------------------------

def run_impl(impl: str, x: torch.Tensor, edge_index: torch.Tensor, shape: GpuShape,
             device: torch.device, seed: int) -> dict[str, Any]:
    """Builds one implementation's model on the graph, trains it and reads time and memory."""
    free_device_memory(device)
    baseline = allocated(device)
    reset_peak(device)
    started = time.perf_counter()
    try:
        model, opt = speed.build_model("graphinfo" if impl == "graphinfo" else "pyg",
                                       x.size(1), shape.hidden, device, seed)
        adj = csr_adjacency(edge_index, x.size(0)) if impl == "pyg-csr" else edge_index
        speed.synchronize(device)
        setup_s = time.perf_counter() - started

        def step() -> None:
            speed.train_epoch(model, opt, x, adj)

        first = speed.timed_epoch(step, device)
        for _ in range(shape.warmup - 1):
            speed.timed_epoch(step, device)
        times = [speed.timed_epoch(step, device) for _ in range(shape.epochs)]
        inference = [speed.timed_epoch(lambda: speed.export_embeddings(model, x, adj), device)
                     for _ in range(3)]
    except Exception as err:  # noqa: BLE001 - every failure is a result to report
        result = failure(err, device)
        result["baseline_bytes"] = baseline
        return result
    peak = peak_allocated(device)
    return {
        "setup_s": setup_s, "first_epoch_s": first, "epoch_s": times,
        "median_s": statistics.median(times), "min_s": min(times),
        "inference_median_s": statistics.median(inference),
        "baseline_bytes": baseline, "peak_bytes": peak,
        "overhead_bytes": None if peak is None else peak - baseline,
    }


def parity(x: torch.Tensor, edge_index: torch.Tensor, device: torch.device,
           seed: int, steps: int = 2) -> dict[str, Any]:
    """graphinfo's fast path against its general path (PyG's message passing) on the device:
    the same weights and permutation, loss and gradients over ``steps`` Adam steps."""
    import copy

    import graphinfo

    torch.manual_seed(seed)
    fast = graphinfo.DGI(64, in_channels=x.size(1)).to(device)
    general = copy.deepcopy(fast)
    general.fast_path = False
    uses = (fast.uses_fast_path(x, edge_index), general.uses_fast_path(x, edge_index))
    if uses != (True, False):
        return {"error": "fast-path switch", "detail": f"expected the fast model on the fast "
                f"path and the general one off it, got {uses[0]} and {uses[1]}"}
    optimizers = [torch.optim.Adam(m.parameters(), lr=0.01) for m in (fast, general)]
    worst_loss, worst_grad = 0.0, 0.0
    for step in range(steps):
        results = []
        for model in (fast, general):
            model.zero_grad()
            torch.manual_seed(seed + step)        # the same permutation for both
            loss = model.loss(*model(x, edge_index))
            loss.backward()
            results.append((float(loss), {n: q.grad for n, q in model.named_parameters()}))
        (loss_f, grads_f), (loss_g, grads_g) = results
        worst_loss = max(worst_loss, abs(loss_f - loss_g) / max(abs(loss_g), 1e-12))
        for name, grad in grads_g.items():
            diff = (grads_f[name] - grad).norm() / grad.norm().clamp_min(1e-12)
            worst_grad = max(worst_grad, float(diff))
        for optimizer in optimizers:
            optimizer.step()
    return {"steps": steps, "max_rel_loss_diff": worst_loss, "max_rel_grad_diff": worst_grad,
            "ok": worst_loss < 1e-4 and worst_grad < 1e-3}


def load_graph(shape: GpuShape, args: argparse.Namespace, device: torch.device) -> Graph:
    if shape.kind == "real":
        return speed.load_real(shape.name, speed.resolve_root(args.root), args.dry).to(device)
    return make_graph(shape.nodes, shape.edges, shape.features, shape.kind, seed=args.seed,
                      device=device)


def run_full(args: argparse.Namespace, name: str, report: dict[str, Any], out: Path,
             clock: Budget) -> None:
    """All implementations, full-batch, on one shape."""
    shape = dry_shape(SHAPES[name]) if args.dry else SHAPES[name]
    device = torch.device(args.device)
    entry: dict[str, Any] = {"hidden": shape.hidden, "warmup": shape.warmup,
                             "epochs": shape.epochs, "runs": {}}
    report["full"][name] = entry
    if clock.spent():
        entry["skipped"] = f"time budget of {args.budget_s:g} s spent"
        return
    free_device_memory(device)
    started = time.perf_counter()
    try:
        graph = load_graph(shape, args, device)
    except Exception as err:  # noqa: BLE001 - the other shapes still run
        if shape.kind == "real" and isinstance(err, (FileNotFoundError, ValueError)):
            entry["skipped"] = "not found under the data root: " + str(err).splitlines()[0]
        else:
            entry["skipped"] = f"building the graph failed: {type(err).__name__}: " + \
                (str(err).strip().splitlines() or [""])[0][:300]
            entry["traceback"] = traceback.format_exc().splitlines()[-12:]
        print(f"[{name}] skipped: {entry['skipped']}", flush=True)
        free_device_memory(device)
        save(report, out)
        return
    speed.synchronize(device)
    entry.update(nodes=graph.num_nodes, edges=graph.num_edges, features=graph.num_features,
                 build_s=time.perf_counter() - started)
    print(f"[{name}] {graph.num_nodes:,} nodes, {graph.num_edges:,} directed edges, "
          f"{graph.num_features} features (built in {entry['build_s']:.1f} s)", flush=True)
    x, edge_index = graph.x, graph.edge_index
    del graph
    for impl in args.impls:
        if clock.spent():
            entry["runs"][impl] = {"skipped": f"time budget of {args.budget_s:g} s spent"}
            continue
        run = run_impl(impl, x, edge_index, shape, device, args.seed)
        entry["runs"][impl] = run
        print(f"[{name}] {IMPL_LABEL[impl]}: {_run_text(run, device)}", flush=True)
        save(report, out)
    if name in PARITY_SHAPES and not clock.spent():   # after the timings: a clean baseline
        try:
            entry["parity"] = parity(x, edge_index, device, args.seed)
        except Exception as err:  # noqa: BLE001 - reported with the other results
            entry["parity"] = failure(err, device)
        print(f"[{name}] fast vs general path: {entry['parity']}", flush=True)
    del x, edge_index
    free_device_memory(device)
    save(report, out)


def run_minibatch(args: argparse.Namespace, report: dict[str, Any], out: Path,
                  clock: Budget) -> None:
    """graphinfo's mini-batch training on products-like, model on the device, graph on the
    host."""
    import torch_geometric.typing
    from torch_geometric.data import Data

    import graphinfo
    from graphinfo.minibatch import fit_minibatch

    shape = dry_shape(SHAPES["products-like"]) if args.dry else SHAPES["products-like"]
    device = torch.device(args.device)
    entry: dict[str, Any] = {
        "shape": shape.name, "batch_size": BATCH_SIZE, "num_neighbors": list(FANOUT),
        "hidden": shape.hidden, "pyg_lib": bool(torch_geometric.typing.WITH_PYG_LIB),
        "torch_sparse": bool(torch_geometric.typing.WITH_TORCH_SPARSE),
    }
    report["mini"] = entry
    if clock.spent():
        entry["skipped"] = f"time budget of {args.budget_s:g} s spent"
        save(report, out)
        return
    free_device_memory(device)
    started = time.perf_counter()
    # Drawn on the device (fast), then moved to the host, where the sampler reads it.
    try:
        graph = make_graph(shape.nodes, shape.edges, shape.features, shape.kind,
                           seed=args.seed, device=device).to("cpu")
    except Exception as err:  # noqa: BLE001 - a failure is a result to report
        entry["run"] = failure(err, device)
        save(report, out)
        return
    data = Data(x=graph.x, edge_index=graph.edge_index)
    del graph
    free_device_memory(device)
    entry.update(nodes=data.num_nodes, edges=data.edge_index.size(1),
                 features=data.num_features, build_s=time.perf_counter() - started)
    steps = 3 if args.dry else args.mini_steps
    generator = torch.Generator().manual_seed(args.seed + 1)
    seeds = torch.randperm(data.num_nodes, generator=generator)[:steps * BATCH_SIZE]
    reset_peak(device)
    baseline = allocated(device)
    torch.manual_seed(args.seed)
    warmup, epochs = 1, 2
    wall_start = time.perf_counter()
    try:
        model = graphinfo.DGI(shape.hidden, in_channels=shape.features)
        history = fit_minibatch(model, data, batch_size=BATCH_SIZE, num_neighbors=list(FANOUT),
                                epochs=warmup + epochs, patience=None, progress=False,
                                input_nodes=seeds, seed=args.seed, device=device)
    except Exception as err:  # noqa: BLE001 - a failure is a result to report
        entry["run"] = failure(err, device)
        save(report, out)
        return
    wall = time.perf_counter() - wall_start
    times = list(history.epoch_times)
    scale = data.num_nodes / seeds.numel()
    peak = peak_allocated(device)
    entry["run"] = {
        "seeds_per_epoch": seeds.numel(), "steps_per_epoch": math.ceil(seeds.numel() / BATCH_SIZE),
        "full_epoch_steps": math.ceil(data.num_nodes / BATCH_SIZE), "scale": scale,
        "warmup": warmup, "epochs": epochs, "epoch_s_measured": times,
        "step_s": statistics.median(times[warmup:]) / math.ceil(seeds.numel() / BATCH_SIZE),
        "median_s": statistics.median(times[warmup:]) * scale,
        "setup_s": wall - sum(times), "final_loss": history.losses[-1],
        "baseline_bytes": baseline, "peak_bytes": peak,
        "overhead_bytes": None if peak is None else peak - (baseline or 0),
        "host_peak_rss_kib": speed.peak_rss_kib(),
    }
    print(f"[mini-batch {shape.name}] {entry['run']['median_s']:.1f} s per full epoch "
          f"(scaled), setup {entry['run']['setup_s']:.1f} s", flush=True)
    save(report, out)


class Budget:
    """Wall-clock budget of the whole run: a step that would start past it is skipped."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def spent(self) -> bool:
        return self.elapsed() > self.seconds


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------

def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{1e3 * seconds:,.1f}" if seconds < 100 else f"{1e3 * seconds:,.0f}"


def _mib(value: int | None) -> str:
    return "—" if value is None else f"{value / 2**20:,.0f}"


def _cell(run: dict[str, Any] | None, key: str, fmt: Callable[[Any], str]) -> str:
    if not run:
        return "—"
    if "skipped" in run:
        return "skipped"
    if "error" in run:
        return "OOM" if run["error"] == "out of memory" else "failed"
    return fmt(run.get(key))


def _ratio(num: dict[str, Any] | None, den: dict[str, Any] | None, key: str) -> str:
    if not num or not den or num.get(key) is None or den.get(key) is None or \
            "error" in num or "error" in den or not den[key]:
        return "—"
    return f"{num[key] / den[key]:.2f}"


def _run_text(run: dict[str, Any], device: torch.device) -> str:
    if "error" in run:
        peak = run.get("peak_bytes")
        return (f"{run['error']}: {run['detail']}"
                + (f" (peak {peak / 2**20:,.0f} MiB)" if peak is not None else ""))
    mem = "" if run["peak_bytes"] is None else f", peak {run['peak_bytes'] / 2**20:,.0f} MiB"
    return (f"{1e3 * run['median_s']:.2f} ms/epoch (first {1e3 * run['first_epoch_s']:.0f} ms, "
            f"setup {run['setup_s']:.2f} s){mem}")


def markdown(report: dict[str, Any]) -> str:
    settings = report["settings"]
    lines = [
        *speed.report_header("GPU: PyG DeepGraphInfomax vs graphinfo DGI", report),
        "Model: 1-layer GCN + PReLU, sigmoid-mean summary, node-shuffle corruption, bilinear "
        "critic, BCE/JSD loss, Adam lr 1e-3, the same training loop for every implementation. "
        "PyG (edge_index) is PyG's `DeepGraphInfomax` with the encoder of its "
        "`infomax_transductive.py` example (`GCNConv(cached=True)` + PReLU) on `edge_index`; "
        "PyG (CSR adjacency) is the same model given the transposed adjacency as a "
        "`torch.sparse_csr_tensor` (sparse-dense products); graphinfo is `graphinfo.DGI` with "
        "its defaults and the optimiser of its `fit`. Each implementation runs alone in turn "
        "in one process; ms/epoch is the median of the timed epochs after the warm-up "
        "epochs (the first epoch, which builds the caches, is reported apart); peak = "
        "`torch.cuda.max_memory_allocated` from the moment the graph is on the device, so it "
        "includes the graph (the data baseline); OOM = the run exhausted the device's memory. "
        "float32 throughout (TF32 matrix products "
        + ("allowed" if report["machine"].get("allow_tf32") else "off, torch's default") + ").",
        "",
        "| shape | nodes | directed edges | features | hidden | epochs (warm-up + timed) "
        "| PyG ms/epoch | PyG CSR ms/epoch | graphinfo ms/epoch | speed-up vs PyG "
        "| speed-up vs PyG CSR | data baseline (MiB) | PyG peak (MiB) | PyG CSR peak (MiB) "
        "| graphinfo peak (MiB) | graphinfo / PyG peak | graphinfo / PyG CSR peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes: list[str] = []
    details = ["", "Setup, first epoch and inference (ms; setup in s):", "",
               "| shape | implementation | setup (s) | first epoch | median epoch | min epoch "
               "| inference (export) |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, entry in report["full"].items():
        if "skipped" in entry and "nodes" not in entry:
            notes.append(f"- {name}: skipped ({entry['skipped']})")
            continue
        runs = entry["runs"]
        pyg, csr, gi = runs.get("pyg"), runs.get("pyg-csr"), runs.get("graphinfo")
        bases = [r["baseline_bytes"] for r in runs.values() if r.get("baseline_bytes")]
        lines.append(
            f"| {name} | {entry['nodes']:,} | {entry['edges']:,} | {entry['features']:,} "
            f"| {entry['hidden']} | {entry['warmup']} + {entry['epochs']} "
            f"| {_cell(pyg, 'median_s', _ms)} | {_cell(csr, 'median_s', _ms)} "
            f"| {_cell(gi, 'median_s', _ms)} | {_ratio(pyg, gi, 'median_s')} "
            f"| {_ratio(csr, gi, 'median_s')} | {_mib(min(bases)) if bases else '—'} "
            f"| {_cell(pyg, 'peak_bytes', _mib)} | {_cell(csr, 'peak_bytes', _mib)} "
            f"| {_cell(gi, 'peak_bytes', _mib)} | {_ratio(gi, pyg, 'peak_bytes')} "
            f"| {_ratio(gi, csr, 'peak_bytes')} |")
        for impl, run in runs.items():
            if "error" in run:
                peak = run.get("peak_bytes")
                notes.append(f"- {name}, {IMPL_LABEL[impl]}: {run['error']} — {run['detail']}"
                             + (f" (peak reached {peak / 2**20:,.0f} MiB)" if peak else ""))
                continue
            if "skipped" in run:
                notes.append(f"- {name}, {IMPL_LABEL[impl]}: skipped ({run['skipped']})")
                continue
            details.append(
                f"| {name} | {IMPL_LABEL[impl]} | {run['setup_s']:.2f} "
                f"| {_ms(run['first_epoch_s'])} | {_ms(run['median_s'])} | {_ms(run['min_s'])} "
                f"| {_ms(run['inference_median_s'])} |")
    lines += details
    checks = [(name, entry["parity"]) for name, entry in report["full"].items()
              if "parity" in entry]
    if checks:
        lines += ["", "Same model on the device: graphinfo's fast path against its general path "
                  "(PyG's message passing), the same weights and permutation, 2 Adam steps, "
                  "hidden 64:", ""]
        for name, check in checks:
            if "error" in check:
                lines.append(f"- {name}: check failed to run ({check['error']}: "
                             f"{check.get('detail', '')})")
            else:
                lines.append(f"- {name}: largest relative difference of the loss "
                             f"{check['max_rel_loss_diff']:.1e}, of a gradient "
                             f"{check['max_rel_grad_diff']:.1e} — "
                             + ("equal to float32 rounding" if check["ok"] else "**DIFFERENT**"))
    mini = report.get("mini")
    if mini:
        lines += ["", "## Mini-batch products-like (graphinfo)", ""]
        run = mini.get("run")
        if "skipped" in mini:
            lines.append(f"Skipped: {mini['skipped']}.")
        elif run and "error" in run:
            lines.append(f"Failed: {run['error']} — {run['detail']}.")
        elif run:
            lines += [
                f"`graphinfo.minibatch.fit_minibatch(batch_size={mini['batch_size']}, "
                f"num_neighbors={mini['num_neighbors']})`, hidden {mini['hidden']}, model on "
                f"the device, graph ({mini['nodes']:,} nodes, {mini['edges']:,} directed "
                "edges) in host memory, neighbour sampling on the CPU in the training process. "
                f"Each epoch runs {run['steps_per_epoch']} batches on a fixed random subset of "
                f"{run['seeds_per_epoch']:,} seeds; its time is scaled to all nodes "
                f"({run['full_epoch_steps']:,} batches).",
                "",
                "| s per full epoch (scaled) | ms per batch | setup (s) | peak device memory "
                "(MiB) | host peak RSS (MiB) |",
                "|---:|---:|---:|---:|---:|",
                f"| {run['median_s']:,.1f} | {1e3 * run['step_s']:.1f} | {run['setup_s']:.1f} "
                f"| {_mib(run['peak_bytes'])} | {run['host_peak_rss_kib'] / 1024:,.0f} |",
            ]
        lines += ["", "PyG's own mini-batch DGI (its `NeighborLoader`) needs pyg-lib or "
                  f"torch-sparse: pyg-lib {'installed' if mini['pyg_lib'] else 'not installed'}"
                  f", torch-sparse {'installed' if mini['torch_sparse'] else 'not installed'} "
                  "here" + ("; not run." if not (mini["pyg_lib"] or mini["torch_sparse"])
                            else "; not run by this script.")]
    if report.get("skipped_steps"):
        notes.append("- skipped for the time budget: " + ", ".join(report["skipped_steps"]))
    if notes:
        lines += ["", "Notes:", "", *notes]
    lines += ["", f"Total wall time {report.get('wall_s', 0):.0f} s (budget "
              f"{settings['budget_s']:g} s). Synthetic shapes: Chung–Lu-style heavy-tailed "
              "degrees, Gaussian features, drawn on the device with seed "
              f"{settings['seed']} (benchmarks/synthetic_graphs.py)."]
    return "\n".join(lines) + "\n"


def save(report: dict[str, Any], out: Path) -> None:
    speed.write_atomic(out / "gpu.json", json.dumps(report, indent=2) + "\n")
    speed.write_atomic(out / "gpu.md", markdown(report))


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu "
                        "(with --dry)")
    parser.add_argument("--dry", action="store_true",
                        help="dry run: every step on graphs scaled down, 1 + 2 epochs")
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES),
                        help="full-batch shapes (default: all)")
    parser.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS),
                        help="implementations, in the order they run (default: all)")
    parser.add_argument("--no-mini", action="store_true", help="skip mini-batch products")
    parser.add_argument("--mini-steps", type=int, default=100,
                        help="batches per mini-batch epoch (default 100)")
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="skip the steps that would start after this many seconds")
    parser.add_argument("--root", default=None, help="data root for Cora and PubMed "
                        "(default: $GRAPHINFO_DATA, else ../shared/data)")
    parser.add_argument("--seed", type=int, default=0, help="graph and model seed")
    parser.add_argument("--out", default=None, help="output folder (default: "
                        "benchmarks/results; with --dry a temporary folder)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = str(speed.default_out(args.dry))
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda given but CUDA is not available (use --device cpu --dry "
                     "for the dry run)")
    if not args.device.startswith("cuda") and not args.dry:
        parser.error("this benchmark times a CUDA device; on the CPU only --dry runs "
                     "(speed.py and scale.py time the CPU)")
    if args.mini_steps < 1:
        parser.error("--mini-steps must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clock = Budget(args.budget_s)
    allocator = speed.configure_allocator("tuned")
    info = speed.machine_info(args.device, allocator)
    info["allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
    out = Path(args.out)
    report: dict[str, Any] = {
        "benchmark": "gpu", "command": speed.command_line(argv, Path(__file__).name),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": info, "machine_line": speed.machine_line(info),
        "settings": {**{k: v for k, v in vars(args).items() if k != "out"},
                     "data_root": str(speed.resolve_root(args.root))},
        "shape_definitions": {name: asdict(SHAPES[name]) for name in args.shapes},
        "full": {}, "skipped_steps": [],
    }
    print(report["machine_line"], flush=True)
    for name in args.shapes:
        run_full(args, name, report, out, clock)
    if not args.no_mini:
        run_minibatch(args, report, out, clock)
    for name, entry in report["full"].items():
        if "skipped" in entry and "budget" in entry["skipped"]:
            report["skipped_steps"].append(name)
        report["skipped_steps"] += [f"{name} {IMPL_LABEL[i]}" for i, r in entry["runs"].items()
                                    if "budget" in r.get("skipped", "")]
    if report.get("mini", {}).get("skipped", "").startswith("time budget"):
        report["skipped_steps"].append("mini-batch")
    report["wall_s"] = clock.elapsed()
    save(report, out)
    print()
    print(markdown(report))
    print(f"wrote {out / 'gpu.md'} and {out / 'gpu.json'}")
    problems = failures_of(report)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def failures_of(report: dict[str, Any]) -> list[str]:
    """What went wrong beyond running out of memory: failed runs, and a fast path that gave
    another loss or gradients than the general one."""
    problems = []
    for name, entry in report["full"].items():
        if "traceback" in entry:
            problems.append(f"{name}: {entry['skipped']}")
        for impl, run in entry.get("runs", {}).items():
            if "error" in run and run["error"] != "out of memory":
                problems.append(f"{name}, {IMPL_LABEL[impl]}: {run['error']}: {run['detail']}")
        check = entry.get("parity")
        if check is not None and not check.get("ok"):
            problems.append(f"{name}: fast path against general path: {check}")
    run = report.get("mini", {}).get("run")
    if run is not None and "error" in run and run["error"] != "out of memory":
        problems.append(f"mini-batch: {run['error']}: {run['detail']}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
