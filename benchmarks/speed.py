"""Training speed and peak memory: PyG's reference Deep Graph Infomax against graphinfo's DGI.

Both implementations train the same model (one GCN layer + PReLU, sigmoid-mean summary,
node-shuffle corruption, bilinear critic, binary cross-entropy / JSD loss, Adam lr 1e-3) on the
same graph with the same loop::

    opt.zero_grad(); loss = model.loss(*model(x, edge_index)); loss.backward(); opt.step()

* Reference: ``torch_geometric.nn.DeepGraphInfomax`` with the encoder of PyG's
  ``examples/infomax_transductive.py`` (``GCNConv(in, hidden, cached=True)`` + ``PReLU``).
* graphinfo: ``graphinfo.DGI(hidden, in_channels=F)`` with its defaults and the optimiser its
  ``fit`` uses (``graphinfo.train.make_optimizer``: Adam lr 1e-3 with the fused update; PyG's
  example uses the default ``torch.optim.Adam``).
* Compiled reference (unless ``--no-compiled-pyg``): the same PyG model through
  ``torch.compile(model)`` (inductor; ``torch._inductor.config.pattern_matcher = False``, without
  which compiling it fails here), what a PyG user can do without changing the model; its
  loss and optimiser step stay eager. Its compilation happens in its warm-up epochs (at least
  3), whose total is reported apart as *compile + warm-up*; inference is not timed for it.

**Time.** In one process, both models are built on the same graph, each trains ``--warmup``
epochs, then one PyG epoch and one graphinfo epoch alternate for ``--epochs`` rounds, so that
load from other processes and thermal drift hit both alike. Each epoch is timed with
``time.perf_counter`` (after ``torch.cuda.synchronize`` on CUDA); the table gives the median
seconds (ms on CUDA) per epoch and ratio = PyG median / graphinfo median (above 1: graphinfo
is faster).

**Memory.** For each shape and implementation a fresh child process (this script with
``--_memory-child``) builds the graph, records its resident set size (the "data baseline"), then
builds the model and trains a few epochs. Its peak RSS is read from ``VmHWM`` in
``/proc/self/status``; ``ru_maxrss`` is recorded too but not used on Linux because the kernel
carries the parent's high-water mark over ``fork``/``exec`` into it, so a child started by a
process that holds a large graph reports at least that process's size. The children run one
after another, never alongside the timing. On CUDA the peak is
``torch.cuda.max_memory_allocated``.

**Allocator.** Unless ``--allocator default``, ``graphinfo.runtime.tune_cpu_allocator()`` is
called once at startup, before anything is built. It changes glibc's malloc thresholds for the
whole process, so both implementations run with the same allocator; children inherit the flag.

Shapes are deterministic synthetic graphs from ``synthetic_graphs.py`` (heavy-tailed degrees)
plus the real Cora. Results go to ``<out>/speed.md`` and ``<out>/speed.json`` after every shape.

    python benchmarks/speed.py                       # everything (minutes)
    python benchmarks/speed.py --shapes cora-like cora --epochs 20
    python benchmarks/speed.py --quick               # smoke test, seconds
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_graphs import Graph, make_graph  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CHILD_MARKER = "@@BENCH-RESULT@@ "
QUICK_FACTOR = 50
IMPLS = ("pyg", "pyg-compiled", "graphinfo")
IMPL_LABEL = {"pyg": "PyG", "pyg-compiled": "PyG compiled", "graphinfo": "graphinfo"}
#: Warm-up epochs of the compiled PyG model at least: the first call compiles, the second
#: recompiles once GCNConv's cache is filled.
COMPILED_WARMUP = 3


@dataclass(frozen=True)
class Shape:
    """A benchmark input: a synthetic graph (``kind`` a feature kind) or ``kind='real'``."""

    name: str
    nodes: int
    edges: int
    features: int
    kind: str
    density: float
    hidden: int
    epochs: int = 10
    memory_epochs: int = 3


SHAPES: dict[str, Shape] = {s.name: s for s in (
    Shape("cora-like", 2_708, 10_556, 1_433, "binary", 0.013, 512),
    Shape("pubmed-like", 19_717, 88_648, 500, "tfidf", 0.10, 512),
    Shape("arxiv-like", 169_343, 2_332_486, 128, "gaussian", 1.0, 256, epochs=4,
          memory_epochs=2),
    Shape("cora", 2_708, 10_556, 1_433, "real", 0.0, 512),
)}


# --------------------------------------------------------------------------------------------
# Environment: allocator, threads, machine description, memory readings
# --------------------------------------------------------------------------------------------

def configure_allocator(setting: str) -> dict[str, Any]:
    """Applies ``--allocator`` once, before anything is built; returns what was done."""
    if setting == "default":
        # graphinfo.train.fit would tune it on its own; make sure nothing does.
        os.environ["GRAPHINFO_TUNE_ALLOCATOR"] = "0"
        return {"setting": "default", "applied": False}
    from graphinfo.runtime import tune_cpu_allocator

    return {"setting": "tuned", "applied": bool(tune_cpu_allocator())}


def configure_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)


def _read_proc(path: str, key: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _proc_kib(key: str) -> int | None:
    value = _read_proc("/proc/self/status", key)
    return int(value.split()[0]) if value else None


def ru_maxrss_kib() -> int:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in KiB (it is in bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value // 1024 if sys.platform == "darwin" else value


def current_rss_kib() -> int | None:
    """The resident set size now (``VmRSS``), or None where /proc is missing."""
    return _proc_kib("VmRSS:")


def peak_rss_kib() -> int:
    """This process image's peak RSS: ``VmHWM``, else ``ru_maxrss`` (see the module docstring)."""
    hwm = _proc_kib("VmHWM:")
    return hwm if hwm is not None else ru_maxrss_kib()


def reset_peak_rss() -> bool:
    """Resets ``VmHWM`` to the current RSS (Linux >= 4.0); returns whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def machine_info(device: str, allocator: dict[str, Any]) -> dict[str, Any]:
    """Describes the machine and software the numbers were measured on."""
    import torch_geometric

    import graphinfo

    cpu = _read_proc("/proc/cpuinfo", "model name") or platform.processor() or platform.machine()
    mem = _read_proc("/proc/meminfo", "MemTotal:")
    info: dict[str, Any] = {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "ram_gib": round(int(mem.split()[0]) / 2**20, 1) if mem else None,
        "os": platform.platform(),
        "libc": " ".join(platform.libc_ver()).strip() or None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
        "graphinfo": graphinfo.__version__,
        "device": device,
        "allocator": allocator,
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def machine_line(info: dict[str, Any]) -> str:
    alloc = info["allocator"]
    alloc_text = ("glibc tuned by graphinfo.runtime.tune_cpu_allocator()"
                  if alloc["setting"] == "tuned" and alloc["applied"]
                  else "tune requested but not applied (not glibc)" if alloc["setting"] == "tuned"
                  else "default")
    parts = [
        f"{info['cpu']}, {info['logical_cores']} logical cores "
        f"({info['usable_cores']} usable, torch threads {info['torch_threads']})",
        f"{info['ram_gib']} GiB RAM" if info["ram_gib"] else "RAM unknown",
        info["os"],
        f"Python {info['python']}, torch {info['torch']}, PyG {info['torch_geometric']}, "
        f"graphinfo {info['graphinfo']}",
        f"device {info['device']}" + (f" ({info['gpu']})" if "gpu" in info else ""),
        f"allocator: {alloc_text}",
    ]
    return "; ".join(parts)


def command_line(argv: list[str] | None, script: str) -> str:
    """The command as typed (``argv`` None) or as it would be typed for ``main(argv)``."""
    if argv is None:
        return shlex.join(["python", sys.argv[0], *sys.argv[1:]])
    return shlex.join(["python", f"benchmarks/{script}", *argv])


def default_out(quick: bool) -> Path:
    """``benchmarks/results``; a temporary folder for ``--quick`` runs."""
    if quick:
        return Path(tempfile.gettempdir()) / "graphinfo-bench-quick"
    return HERE / "results"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------------------------
# Inputs and models
# --------------------------------------------------------------------------------------------

def default_data_root() -> Path:
    return REPO.parent / "shared" / "data"


def resolve_root(root: str | None) -> Path:
    """``--root``, else ``$GRAPHINFO_DATA``, else ``../shared/data`` beside the repository."""
    if root:
        return Path(root).expanduser()
    env = os.environ.get("GRAPHINFO_DATA")
    return Path(env).expanduser() if env else default_data_root()


def scaled(shape: Shape, quick: bool) -> Shape:
    """The shape itself, or for ``--quick`` one with nodes and edges divided by 50."""
    if not quick:
        return shape
    return Shape(shape.name, max(8, shape.nodes // QUICK_FACTOR),
                 max(16, shape.edges // QUICK_FACTOR), shape.features, shape.kind,
                 shape.density, shape.hidden, epochs=2, memory_epochs=2)


def load_real(name: str, root: Path, quick: bool) -> Graph:
    """Loads a real dataset as stored; for ``--quick`` the subgraph on its first N/50 nodes."""
    from graphinfo.data import load_dataset

    data = load_dataset(name, root=root, download=False).data
    x, edge_index = data.x.float(), data.edge_index
    if quick:
        from torch_geometric.utils import subgraph

        keep = torch.arange(max(8, x.size(0) // QUICK_FACTOR))
        edge_index, _ = subgraph(keep, edge_index, relabel_nodes=True, num_nodes=x.size(0))
        x = x[keep]
    return Graph(x.contiguous(), edge_index.contiguous())


def build_graph(shape: Shape, *, seed: int, root: Path, quick: bool) -> Graph:
    """Builds (or loads) the input graph of a shape on the CPU. Already scaled for quick."""
    if shape.kind == "real":
        return load_real(shape.name, root, quick)
    return make_graph(shape.nodes, shape.edges, shape.features, shape.kind,
                      density=shape.density, seed=seed)


class PygEncoder(torch.nn.Module):
    """The encoder of PyG's ``examples/infomax_transductive.py``: cached GCNConv + PReLU."""

    def __init__(self, in_channels: int, hidden_channels: int) -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv

        self.conv = GCNConv(in_channels, hidden_channels, cached=True)
        self.prelu = torch.nn.PReLU(hidden_channels)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.prelu(self.conv(x, edge_index))


def pyg_summary(z: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return torch.sigmoid(z.mean(dim=0))


def pyg_corruption(x: torch.Tensor, edge_index: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    return x[torch.randperm(x.size(0), device=x.device)], edge_index


def build_model(impl: str, in_channels: int, hidden: int, device: torch.device,
                seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """Builds one implementation's model and its optimiser, each as its library trains it:
    PyG's example uses ``torch.optim.Adam`` (lr 1e-3); graphinfo's ``fit`` uses
    ``graphinfo.train.make_optimizer`` (Adam lr 1e-3, fused update)."""
    torch.manual_seed(seed)
    if impl == "pyg":
        from torch_geometric.nn import DeepGraphInfomax

        model = DeepGraphInfomax(hidden, PygEncoder(in_channels, hidden),
                                 summary=pyg_summary, corruption=pyg_corruption)
    elif impl == "pyg-compiled":
        base, opt = build_model("pyg", in_channels, hidden, device, seed)
        from torch._inductor import config as inductor_config

        inductor_config.pattern_matcher = False
        return torch.compile(base), opt
    elif impl == "graphinfo":
        from graphinfo import DGI

        model = DGI(hidden, in_channels=in_channels)
    else:
        raise ValueError(f"unknown implementation {impl!r}")
    model = model.to(device).train()
    if impl == "graphinfo":
        from graphinfo.train import make_optimizer

        return model, make_optimizer(model, lr=1e-3)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def train_epoch(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
                edge_index: torch.Tensor) -> None:
    """One epoch, identical for both implementations."""
    opt.zero_grad()
    out = model(x, edge_index)
    loss = model.loss(*out)
    loss.backward()
    opt.step()


def timed_epoch(step: Callable[[], None], device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    step()
    synchronize(device)
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------

def time_shape(graph: Graph, shape: Shape, *, epochs: int, warmup: int,
               device: torch.device, seed: int,
               impls: tuple[str, ...] = IMPLS) -> dict[str, Any]:
    """Interleaved timing of the implementations in this process."""
    x, edge_index = graph.x.to(device), graph.edge_index.to(device)
    steps, models = {}, {}
    for impl in impls:
        model, opt = build_model(impl, graph.num_features, shape.hidden, device, seed)
        models[impl] = model
        steps[impl] = (lambda m=model, o=opt: train_epoch(m, o, x, edge_index))
    warmups: dict[str, list[float]] = {}
    for impl in impls:
        count = max(warmup, COMPILED_WARMUP) if impl == "pyg-compiled" else warmup
        warmups[impl] = [timed_epoch(steps[impl], device) for _ in range(count)]
    times: dict[str, list[float]] = {impl: [] for impl in impls}
    for _ in range(epochs):
        for impl in impls:
            times[impl].append(timed_epoch(steps[impl], device))
    result: dict[str, Any] = {}
    for impl in impls:
        result[impl] = {"epoch_s": times[impl], "median_s": statistics.median(times[impl]),
                        "min_s": min(times[impl]), "warmup_s": warmups[impl]}
    result["ratio"] = result["pyg"]["median_s"] / result["graphinfo"]["median_s"]
    if "pyg-compiled" in impls:
        compiled = result["pyg-compiled"]
        compiled["compile_and_warmup_s"] = sum(warmups["pyg-compiled"])
        result["compiled_ratio"] = compiled["median_s"] / result["graphinfo"]["median_s"]
    # Full-graph inference (embedding export): eval mode, no gradient, alternating as above
    # (not for the compiled model, whose encoder alone is not compiled).
    timed_inference = [impl for impl in impls if impl != "pyg-compiled"]
    exports = {impl: (lambda m=models[impl]: export_embeddings(m, x, edge_index))
               for impl in timed_inference}
    inference: dict[str, list[float]] = {impl: [] for impl in timed_inference}
    for impl in timed_inference:
        timed_epoch(exports[impl], device)
    for _ in range(epochs):
        for impl in timed_inference:
            inference[impl].append(timed_epoch(exports[impl], device))
    for impl in timed_inference:
        result[impl]["inference_s"] = inference[impl]
        result[impl]["inference_median_s"] = statistics.median(inference[impl])
    result["inference_ratio"] = (result["pyg"]["inference_median_s"]
                                 / result["graphinfo"]["inference_median_s"])
    return result


def export_embeddings(model: torch.nn.Module, x: torch.Tensor,
                      edge_index: torch.Tensor) -> torch.Tensor:
    """Full-graph node embeddings in eval mode without gradient: ``model.embed`` for
    graphinfo, the encoder (what PyG's example embeds with) for PyG."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            embed = getattr(model, "embed", None)
            return embed(x, edge_index) if embed is not None else model.encoder(x, edge_index)
    finally:
        model.train(was_training)


def memory_child(impl: str, shape_name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Runs inside the child: builds data and model, trains, returns the memory readings."""
    allocator = configure_allocator(args.allocator)
    configure_threads(args.threads)
    device = torch.device(args.device)
    import torch_geometric.nn  # noqa: F401

    import graphinfo  # noqa: F401 -- import both libraries in every child: same baseline

    shape = scaled(SHAPES[shape_name], args.quick)
    epochs = args.memory_epochs or shape.memory_epochs
    start_rss = current_rss_kib()
    graph = build_graph(shape, seed=args.seed, root=resolve_root(args.root), quick=args.quick)
    x, edge_index = graph.x.to(device), graph.edge_index.to(device)
    del graph
    gc.collect()
    synchronize(device)
    data_rss, data_hwm = current_rss_kib(), peak_rss_kib()
    data_cuda = torch.cuda.memory_allocated(device) if device.type == "cuda" else None
    hwm_reset = reset_peak_rss()
    model, opt = build_model(impl, x.size(1), shape.hidden, device, args.seed)
    for _ in range(epochs):
        train_epoch(model, opt, x, edge_index)
    synchronize(device)
    train_hwm = peak_rss_kib()
    return {
        "impl": impl, "shape": shape_name, "epochs": epochs, "allocator": allocator,
        "start_rss_kib": start_rss, "data_rss_kib": data_rss,
        "data_peak_rss_kib": data_hwm,
        "train_peak_rss_kib": train_hwm if hwm_reset else None,
        "peak_rss_kib": max(data_hwm, train_hwm),
        "ru_maxrss_kib": ru_maxrss_kib(),
        "cuda_data_bytes": data_cuda,
        "cuda_peak_bytes": (torch.cuda.max_memory_allocated(device)
                            if device.type == "cuda" else None),
    }


def child_argv(args: argparse.Namespace, impl: str, shape_name: str) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--_memory-child", impl, shape_name,
            "--device", args.device, "--allocator", args.allocator, "--seed", str(args.seed)]
    if args.root:
        argv += ["--root", args.root]
    if args.quick:
        argv.append("--quick")
    if args.threads:
        argv += ["--threads", str(args.threads)]
    if args.memory_epochs:
        argv += ["--memory-epochs", str(args.memory_epochs)]
    return argv


def run_child(argv: list[str]) -> dict[str, Any]:
    """Runs one measuring child and parses its result line; errors become ``{'error': ...}``."""
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(CHILD_MARKER):
            return json.loads(line[len(CHILD_MARKER):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"child exited with status {proc.returncode}: " + " | ".join(tail)}


def measure_memory(args: argparse.Namespace, shape_name: str) -> dict[str, Any]:
    """Both implementations' memory children, one after the other."""
    result: dict[str, Any] = {impl: run_child(child_argv(args, impl, shape_name))
                              for impl in args.impls}
    pyg, gi = result["pyg"], result["graphinfo"]
    if "error" in pyg or "error" in gi:
        return result
    key = "cuda_peak_bytes" if args.device.startswith("cuda") else "peak_rss_kib"
    base = "cuda_data_bytes" if args.device.startswith("cuda") else "data_rss_kib"
    result["ratio"] = gi[key] / pyg[key]
    baseline = min(pyg[base], gi[base])
    if pyg[key] > baseline:
        result["overhead_ratio"] = (gi[key] - baseline) / (pyg[key] - baseline)
    return result


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------

def _fmt_time(seconds: float | None, cuda: bool) -> str:
    if seconds is None:
        return "—"
    return f"{1e3 * seconds:.2f}" if cuda else f"{seconds:.3f}"


def _fmt_mem(entry: dict[str, Any] | None, key: str, cuda: bool) -> str:
    if not entry or "error" in entry or entry.get(key) is None:
        return "—"
    value = entry[key]
    return f"{value / 2**20:.0f}" if cuda else f"{value / 1024:.0f}"


def _fmt_ratio(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def report_header(title: str, report: dict[str, Any]) -> list[str]:
    """The Markdown title and the command / date / machine lines every result file starts with."""
    return [f"# {title}", "", f"Command: `{report['command']}`  ", f"Date: {report['date']}  ",
            f"Machine: {report['machine_line']}", ""]


def markdown(report: dict[str, Any]) -> str:
    cuda = report["settings"]["device"].startswith("cuda")
    unit = "ms" if cuda else "s"
    mem_unit = "peak CUDA alloc. (MiB)" if cuda else "peak RSS (MiB)"
    peak_key = "cuda_peak_bytes" if cuda else "peak_rss_kib"
    base_key = "cuda_data_bytes" if cuda else "data_rss_kib"
    lines = [
        *report_header("Training speed and memory: PyG DeepGraphInfomax vs graphinfo DGI", report),
        "Model: 1-layer GCN + PReLU, sigmoid-mean summary, node-shuffle corruption, bilinear "
        "critic, BCE/JSD loss, Adam lr 1e-3 (PyG: torch.optim.Adam as in its example; graphinfo: "
        "the fused Adam its fit uses); the same training loop for both. Time: median "
        f"{unit}/epoch over the timed epochs after {report['settings']['warmup']} warm-up "
        "epochs each, one PyG and one graphinfo epoch alternating in one process; "
        "speed-up = PyG / graphinfo (above 1: graphinfo faster); PyG compiled = the same PyG "
        "model through `torch.compile` (inductor), its compilation in its warm-up epochs "
        "(reported apart) and its loss and optimiser step eager. Memory: a fresh process per "
        "implementation and shape builds the graph and trains a few epochs; peak = "
        + ("`torch.cuda.max_memory_allocated`" if cuda else "the process's peak RSS (VmHWM)")
        + "; data baseline = memory right after building the graph (imports included); "
        "overhead ratio = (graphinfo peak − baseline) / (PyG peak − baseline). Inference: "
        f"median {unit} of a full-graph embedding export in eval mode without gradient "
        "(graphinfo `model.embed`, PyG `model.encoder`), alternating likewise.",
        "",
        f"| shape | nodes | directed edges | features | density | hidden | PyG {unit}/epoch "
        f"| graphinfo {unit}/epoch | speed-up | PyG compiled {unit}/epoch "
        f"| speed-up vs compiled | PyG compile + warm-up (s) | data baseline (MiB) "
        f"| PyG {mem_unit} | PyG compiled {mem_unit} "
        f"| graphinfo {mem_unit} | memory ratio (graphinfo/PyG) | overhead ratio "
        f"| PyG inference {unit} | graphinfo inference {unit} | inference speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
        "|---:|---:|---:|---:|",
    ]
    notes = []
    for name, entry in report["shapes"].items():
        if "skipped" in entry:
            notes.append(f"- {name}: skipped — {entry['skipped']}")
            continue
        timing = entry.get("timing", {})
        memory = entry.get("memory", {})
        pyg_mem, gi_mem = memory.get("pyg"), memory.get("graphinfo")
        compiled_mem, compiled = memory.get("pyg-compiled"), timing.get("pyg-compiled", {})
        compile_s = compiled.get("compile_and_warmup_s")
        bases = [m[base_key] for m in (pyg_mem, gi_mem)
                 if m and "error" not in m and m.get(base_key) is not None]
        base_text = "—" if not bases else _fmt_mem({"v": min(bases)}, "v", cuda)
        lines.append(
            f"| {name} | {entry['nodes']:,} | {entry['edges']:,} | {entry['features']:,} "
            f"| {entry['density']:.3g} | {entry['hidden']} "
            f"| {_fmt_time(timing.get('pyg', {}).get('median_s'), cuda)} "
            f"| {_fmt_time(timing.get('graphinfo', {}).get('median_s'), cuda)} "
            f"| {_fmt_ratio(timing.get('ratio'))} "
            f"| {_fmt_time(compiled.get('median_s'), cuda)} "
            f"| {_fmt_ratio(timing.get('compiled_ratio'))} "
            f"| {'—' if compile_s is None else f'{compile_s:.1f}'} | {base_text} "
            f"| {_fmt_mem(pyg_mem, peak_key, cuda)} | {_fmt_mem(compiled_mem, peak_key, cuda)} "
            f"| {_fmt_mem(gi_mem, peak_key, cuda)} "
            f"| {_fmt_ratio(memory.get('ratio'))} | {_fmt_ratio(memory.get('overhead_ratio'))} "
            f"| {_fmt_time(timing.get('pyg', {}).get('inference_median_s'), cuda)} "
            f"| {_fmt_time(timing.get('graphinfo', {}).get('inference_median_s'), cuda)} "
            f"| {_fmt_ratio(timing.get('inference_ratio'))} |")
        for impl in IMPLS:
            if (memory.get(impl) or {}).get("error"):
                notes.append(f"- {name}, {IMPL_LABEL[impl]} memory run failed: "
                             f"{memory[impl]['error']}")
        if entry.get("edges") != entry.get("edges_target"):
            notes.append(f"- {name}: {entry['edges']:,} directed edges "
                         f"(target {entry['edges_target']:,})")
    if notes:
        lines += ["", "Notes:", "", *notes]
    lines += ["", "Synthetic shapes: Chung–Lu-style heavy-tailed degrees (node weights "
              "u^-0.5), undirected, no self-loops or duplicate edges, fixed seed "
              f"{report['settings']['seed']}; see benchmarks/synthetic_graphs.py. "
              "`cora` is the real Planetoid Cora with its features as stored."]
    return "\n".join(lines) + "\n"


def save(report: dict[str, Any], out: Path) -> None:
    write_atomic(out / "speed.json", json.dumps(report, indent=2) + "\n")
    write_atomic(out / "speed.md", markdown(report))


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def run_shape(args: argparse.Namespace, shape_name: str, report: dict[str, Any],
              out: Path) -> None:
    """Times one shape, then measures its memory; saves the report after each step."""
    base = SHAPES[shape_name]
    shape = scaled(base, args.quick)
    root = resolve_root(args.root)
    try:
        graph = build_graph(shape, seed=args.seed, root=root, quick=args.quick)
    except (FileNotFoundError, ValueError) as err:
        if shape.kind != "real":
            raise
        print(f"[{shape_name}] skipped: {err}", flush=True)
        report["shapes"][shape_name] = {"skipped": f"not found under {root}: "
                                        + str(err).splitlines()[0]}
        save(report, out)
        return
    epochs = args.epochs or shape.epochs
    entry: dict[str, Any] = {
        "nodes": graph.num_nodes, "edges": graph.num_edges,
        "edges_target": graph.num_edges if shape.kind == "real" else shape.edges,
        "features": graph.num_features, "density": graph.density(),
        "feature_kind": shape.kind, "hidden": shape.hidden,
        "epochs": epochs, "warmup": args.warmup,
    }
    report["shapes"][shape_name] = entry
    print(f"[{shape_name}] {entry['nodes']:,} nodes, {entry['edges']:,} directed edges, "
          f"{entry['features']} features; timing {args.warmup}+{epochs} epochs each",
          flush=True)
    device = torch.device(args.device)
    if not args.skip_timing:
        entry["timing"] = time_shape(graph, shape, epochs=epochs, warmup=args.warmup,
                                     device=device, seed=args.seed, impls=args.impls)
        t = entry["timing"]
        compiled = (f", PyG compiled {t['pyg-compiled']['median_s']:.4f} s/epoch (speed-up "
                    f"{t['compiled_ratio']:.2f})") if "pyg-compiled" in t else ""
        print(f"[{shape_name}] PyG {t['pyg']['median_s']:.4f} s/epoch, graphinfo "
              f"{t['graphinfo']['median_s']:.4f} s/epoch, speed-up {t['ratio']:.2f}{compiled}",
              flush=True)
        save(report, out)
    del graph
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if not args.skip_memory:
        entry["memory"] = measure_memory(args, shape_name)
        m = entry["memory"]
        print(f"[{shape_name}] memory ratio {_fmt_ratio(m.get('ratio'))} "
              f"(overhead ratio {_fmt_ratio(m.get('overhead_ratio'))})", flush=True)
        save(report, out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES),
                        help="shapes to run (default: all)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="timed rounds per shape (default: 10; 4 for arxiv-like)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up epochs per model")
    parser.add_argument("--memory-epochs", type=int, default=None,
                        help="epochs in each memory child (default: 3; 2 for arxiv-like)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--allocator", choices=("tuned", "default"), default="tuned",
                        help="tuned: graphinfo.runtime.tune_cpu_allocator() at startup "
                             "(default); default: leave glibc's malloc alone")
    parser.add_argument("--root", default=None,
                        help="data root for the real datasets (default: $GRAPHINFO_DATA, "
                             "else ../shared/data beside the repository)")
    parser.add_argument("--seed", type=int, default=0, help="graph and model seed")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: nodes and edges / 50, 2 epochs")
    parser.add_argument("--no-compiled-pyg", action="store_true",
                        help="skip the torch.compile'd PyG reference")
    parser.add_argument("--skip-memory", action="store_true", help="timing only")
    parser.add_argument("--skip-timing", action="store_true", help="memory only")
    parser.add_argument("--out", default=None,
                        help="output folder (default: benchmarks/results; with --quick "
                             "a temporary folder, so smoke tests never overwrite results)")
    parser.add_argument("--_memory-child", nargs=2, metavar=("IMPL", "SHAPE"),
                        dest="memory_child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.impls = tuple(impl for impl in IMPLS
                       if not (impl == "pyg-compiled" and args.no_compiled_pyg))
    if args.out is None:
        args.out = str(default_out(args.quick))
    if args.memory_child and (args.memory_child[0] not in IMPLS
                              or args.memory_child[1] not in SHAPES):
        parser.error(f"--_memory-child needs IMPL in {IMPLS} and SHAPE in {list(SHAPES)}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda given but CUDA is not available")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        result = memory_child(*args.memory_child, args)
        print(CHILD_MARKER + json.dumps(result), flush=True)
        return 0
    allocator = configure_allocator(args.allocator)
    configure_threads(args.threads)
    info = machine_info(args.device, allocator)
    out = Path(args.out)
    report: dict[str, Any] = {
        "benchmark": "speed",
        "command": command_line(argv, Path(__file__).name),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": info,
        "machine_line": machine_line(info),
        "settings": {**{k: v for k, v in vars(args).items()
                        if k not in ("out", "memory_child")},
                     "data_root": str(resolve_root(args.root))},
        "shape_definitions": {name: asdict(SHAPES[name]) for name in args.shapes},
        "shapes": {},
    }
    print(report["machine_line"], flush=True)
    for name in args.shapes:
        run_shape(args, name, report, out)
    text = markdown(report)
    print()
    print(text)
    print(f"wrote {out / 'speed.md'} and {out / 'speed.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
