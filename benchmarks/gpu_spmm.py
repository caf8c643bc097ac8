"""Sparse x dense products on a CUDA device, and where one graphinfo DGI epoch spends its time
there: the measurements behind the GPU product of :class:`graphinfo.sparse.SparseOperator`.

**Kernels** (``A`` the GCN-normalised adjacency with self-loops of a synthetic graph from
``synthetic_graphs.py``, ``D`` a dense N x F float32 matrix; each the median of ``--repeats``
runs after 3 warm-ups, timed with CUDA events):

* ``gather-sum``: ``torch.nn.functional.embedding_bag(col, D, crow, mode='sum',
  per_sample_weights=val)``, what the fast path uses on the CPU;
* ``cusparse``: ``torch.sparse.mm`` of a ``torch.sparse_csr_tensor`` with ``D`` (cuSPARSE);
* ``cusparse-shuffled``: cuSPARSE with the operator's columns relabelled by a node shuffle
  (unsorted column indices within rows), applied to ``D`` with the inverse shuffle: it must
  equal the plain product;
* ``index-add``: PyG-style message passing, ``out.index_add_(0, row, D[col] * val[:, None])``
  (one message per edge), where it fits in ``--message-limit-gib``.

The floor beside them is the bytes a product must move at least (the CSR arrays, ``D`` read
once, the output written once) over the device-to-device copy bandwidth measured in the same
run; gathering rows of ``D`` at random reads more than that.

**Profile**: ``torch.profiler`` over ``--profile-epochs`` training epochs of
``graphinfo.DGI(256, in_channels=F)`` after warm-up, per shape: the CUDA kernels and copies with
the largest device time, and the operators and runtime calls with the largest host time.

**Ablation**: a ``graphinfo.DGI(256)`` training epoch with each of the GPU's own choices undone
(the gather-sum instead of cuSPARSE; the node shuffle drawn on the host and copied instead of
drawn on the device), median over ``--ablation-epochs`` epochs.

    python benchmarks/gpu_spmm.py --out /tmp/spmm             # on a CUDA machine (a minute)
    python benchmarks/gpu_spmm.py --device cpu --dry          # dry run on small graphs
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402
from synthetic_graphs import make_graph  # noqa: E402

SHAPES = {"arxiv-like": (169_343, 2_332_486, 128), "products-like": (2_449_029, 123_718_280, 100)}
DRY_FACTOR = {"arxiv-like": 50, "products-like": 2000}
WIDTHS = (256, 512)


def timer(device: torch.device, fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``fn`` (CUDA events on a GPU, perf_counter on the CPU)."""
    import time

    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end) / 1e3)
        else:
            began = time.perf_counter()
            fn()
            times.append(time.perf_counter() - began)
    return statistics.median(times)


def copy_bandwidth(device: torch.device, repeats: int) -> float:
    """Device-to-device copy bandwidth, bytes read plus written per second."""
    numel = (1 << 28) if device.type == "cuda" else (1 << 22)
    src = torch.randn(numel, device=device)
    dst = torch.empty_like(src)
    seconds = timer(device, lambda: dst.copy_(src), repeats)
    return 2 * src.numel() * src.element_size() / seconds


def small_cases(device: torch.device) -> dict[str, float]:
    """The largest absolute difference between ``torch.sparse.mm`` and the gather-sum on CSR
    matrices with duplicate entries, empty rows, unsorted columns and no entries at all."""
    from graphinfo.sparse import SparseOperator

    generator = torch.Generator().manual_seed(0)
    rows = torch.randint(0, 40, (300,), generator=generator)
    cols = torch.randint(0, 50, (300,), generator=generator)
    rows[:20], cols[:20] = 3, 7                                     # duplicates
    rows = torch.where(rows == 11, 12, rows)                        # an empty row
    vals = torch.rand(300, generator=generator)
    cases = {"duplicates + empty row": SparseOperator.from_coo(rows, cols, vals, (40, 50))}
    cases["unsorted columns"] = cases["duplicates + empty row"].permute_columns(
        torch.randperm(50, generator=generator))
    empty = torch.zeros(0, dtype=torch.long)
    cases["no entries"] = SparseOperator.from_coo(empty, empty, torch.zeros(0), (40, 50))
    dense = torch.randn(50, 33, generator=generator)
    result = {}
    for name, op in cases.items():
        crow, col, val = op.crow.to(device), op.col.to(device), op.val.to(device)
        d = dense.to(device)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            matrix = torch.sparse_csr_tensor(crow, col, val, op.shape)
        vendor = torch.sparse.mm(matrix, d)
        gather = F.embedding_bag(col, d, crow, mode="sum", per_sample_weights=val,
                                 include_last_offset=True)
        result[name] = float((vendor - gather).abs().max()) if vendor.numel() else 0.0
    return result


def measure_kernels(name: str, args: argparse.Namespace, device: torch.device,
                    bandwidth: float) -> dict[str, Any]:
    from graphinfo.sparse import gcn_operator

    nodes, edges, features = SHAPES[name]
    if args.dry:
        nodes, edges = nodes // DRY_FACTOR[name], edges // DRY_FACTOR[name]
    graph = make_graph(nodes, edges, features, "gaussian", seed=args.seed, device=device)
    op = gcn_operator(graph.edge_index, nodes)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        csr = torch.sparse_csr_tensor(op.crow, op.col, op.val, op.shape)
    row = op.row_index()
    result: dict[str, Any] = {"nodes": nodes, "edges": graph.num_edges, "nnz": op.nnz,
                              "widths": {}}
    for width in WIDTHS:
        dense = torch.randn(nodes, width, device=device)
        kernels: dict[str, Callable[[], Any]] = {
            "gather-sum": lambda d=dense: F.embedding_bag(
                op.col, d, op.crow, mode="sum", per_sample_weights=op.val,
                include_last_offset=True),
            "cusparse": lambda d=dense: torch.sparse.mm(csr, d),
        }
        message_bytes = op.nnz * width * 4
        if message_bytes <= args.message_limit_gib * 2**30:
            kernels["index-add"] = lambda d=dense: torch.zeros_like(d).index_add_(
                0, row, d.index_select(0, op.col) * op.val.unsqueeze(1))
        # A node shuffle relabels the columns (SparseOperator.permute_columns): the column
        # indices are then unsorted within rows; cuSPARSE must give the same product.
        perm = torch.randperm(nodes, device=device)
        shuffled = op.permute_columns(perm)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            shuffled_csr = torch.sparse_csr_tensor(shuffled.crow, shuffled.col, shuffled.val,
                                                   shuffled.shape)
        # (S P) D[inverse] = S D[inverse][perm] = S D: the same product as the others.
        inverse = torch.argsort(perm)
        kernels["cusparse-shuffled"] = lambda d=dense, m=shuffled_csr, q=inverse: \
            torch.sparse.mm(m, d[q])
        reference = kernels["gather-sum"]()
        entry: dict[str, Any] = {}
        for kernel, fn in kernels.items():
            error = ((fn() - reference).norm() / reference.norm().clamp_min(1e-30)).item()
            entry[kernel] = {"s": timer(device, fn, args.repeats), "rel_error": error}
        floor_bytes = (op.crow.numel() + op.col.numel()) * 8 + op.val.numel() * 4 \
            + 2 * dense.numel() * 4
        entry["floor_s"] = floor_bytes / bandwidth
        result["widths"][str(width)] = entry
        del dense, reference
    return result


def profile_epochs(name: str, args: argparse.Namespace, device: torch.device
                   ) -> dict[str, list[dict]]:
    """The operators and kernels with the largest self time over a few DGI epochs, on the
    device (CUDA only) and on the host."""
    from torch.profiler import ProfilerActivity, profile

    nodes, edges, features = SHAPES[name]
    if args.dry:
        nodes, edges = nodes // DRY_FACTOR[name], edges // DRY_FACTOR[name]
    graph = make_graph(nodes, edges, features, "gaussian", seed=args.seed, device=device)
    model, opt = speed.build_model("graphinfo", features, 256, device, args.seed)
    for _ in range(3):
        speed.train_epoch(model, opt, graph.x, graph.edge_index)
    speed.synchronize(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda"
                                           else [])
    with profile(activities=activities) as prof:
        for _ in range(args.profile_epochs):
            speed.train_epoch(model, opt, graph.x, graph.edge_index)
        speed.synchronize(device)
    keys = ["self_device_time_total"] if device.type == "cuda" else []
    tables = {}
    for key in keys + ["self_cpu_time_total"]:
        rows = []
        for event in prof.key_averages():
            total = getattr(event, key, 0) or 0
            on_device = getattr(event, "device_type", None) == torch.autograd.DeviceType.CUDA
            # The device table lists kernels and copies only (an operator's device time is
            # its kernels'), the host table the host's own work.
            if total > 0 and (on_device if key == "self_device_time_total" else True):
                rows.append({"name": event.key[:90], "calls": event.count,
                             "ms_per_epoch": total / 1e3 / args.profile_epochs})
        rows.sort(key=lambda r: -r["ms_per_epoch"])
        tables["device" if key == "self_device_time_total" else "host"] = rows[:args.top]
    return tables


def ablation(name: str, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    """Median seconds per ``graphinfo.DGI(256)`` training epoch with each GPU choice undone:
    products by the gather-sum instead of cuSPARSE, and the node shuffle drawn on the host
    (``ShuffleNodes(generator=torch.Generator())``: drawn on the CPU, then copied) instead of
    on the device."""
    import graphinfo
    from graphinfo import sparse
    from graphinfo.nn.corruptions import ShuffleNodes
    from graphinfo.train import make_optimizer

    nodes, edges, features = SHAPES[name]
    if args.dry:
        nodes, edges = nodes // DRY_FACTOR[name], edges // DRY_FACTOR[name]
    graph = make_graph(nodes, edges, features, "gaussian", seed=args.seed, device=device)
    vendor = sparse._vendor_product
    result = {}
    try:
        for product in ("cusparse", "gather-sum"):
            sparse._vendor_product = vendor if product == "cusparse" else (lambda d: False)
            for draw in ("device", "host"):
                torch.manual_seed(args.seed)
                corruption = ShuffleNodes(torch.Generator()) if draw == "host" else "shuffle"
                model = graphinfo.DGI(256, in_channels=features,
                                      corruption=corruption).to(device).train()
                opt = make_optimizer(model, lr=1e-3)
                def step(m=model, o=opt) -> None:
                    speed.train_epoch(m, o, graph.x, graph.edge_index)

                times = [speed.timed_epoch(step, device)
                         for _ in range(3 + args.ablation_epochs)][3:]
                result[f"{product}, shuffle drawn on the {draw}"] = statistics.median(times)
                del model, opt
    finally:
        sparse._vendor_product = vendor
    return result


def markdown(report: dict[str, Any]) -> str:
    lines = [*speed.report_header("GPU sparse x dense products and the DGI epoch profile",
                                  report),
             f"Copy bandwidth (read + write): {report['bandwidth'] / 1e9:,.0f} GB/s.", "",
             "`torch.sparse.mm` of a CSR tensor against the gather-sum, largest absolute "
             "difference: " + ", ".join(f"{k} {v:.1e}" for k, v in report["small_cases"].items())
             + ".", "",
             "| shape | nnz | width | gather-sum ms | cuSPARSE ms | index-add ms | floor ms "
             "| cuSPARSE rel. error | cuSPARSE shuffled rel. error | index-add rel. error |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, entry in report["kernels"].items():
        for width, k in entry["widths"].items():
            ia = k.get("index-add")
            lines.append(
                f"| {name} | {entry['nnz']:,} | {width} | {1e3 * k['gather-sum']['s']:.2f} "
                f"| {1e3 * k['cusparse']['s']:.2f} "
                f"| {'—' if ia is None else format(1e3 * ia['s'], '.2f')} "
                f"| {1e3 * k['floor_s']:.2f} | {k['cusparse']['rel_error']:.1e} "
                f"| {k['cusparse-shuffled']['rel_error']:.1e} "
                f"| {'—' if ia is None else format(ia['rel_error'], '.1e')} |")
    for name, times in report.get("ablation", {}).items():
        lines += ["", f"`graphinfo.DGI(256)` on {name}, median ms per training epoch "
                  f"({report['settings']['ablation_epochs']} epochs after 3 warm-up), with each "
                  "GPU choice undone:", "", "| products | node shuffle drawn on | ms/epoch |",
                  "|---|---|---:|"]
        for label, seconds in times.items():
            product, draw = label.split(", shuffle drawn on the ")
            lines.append(f"| {product} | {draw} | {1e3 * seconds:.1f} |")
    epochs = report["settings"]["profile_epochs"]
    for name, tables in report["profile"].items():
        for side, rows in tables.items():
            what = "kernels and copies, device time" if side == "device" else \
                "operators and runtime calls, host time (self)"
            lines += ["", f"Profile of `graphinfo.DGI(256)` on {name}, per epoch, {what}:", "",
                      f"| name | calls in {epochs} epochs | ms per epoch |", "|---|---:|---:|"]
            lines += [f"| `{r['name']}` | {r['calls']} | {r['ms_per_epoch']:.2f} |"
                      for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dry", action="store_true", help="small graphs, any device")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--profile-epochs", type=int, default=5)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--ablation-epochs", type=int, default=10)
    parser.add_argument("--message-limit-gib", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("CUDA is not available (use --device cpu --dry)")
    if not args.device.startswith("cuda") and not args.dry:
        parser.error("this benchmark times a CUDA device; on the CPU only --dry runs")
    out = Path(args.out or speed.default_out(args.dry))
    device = torch.device(args.device)
    info = speed.machine_info(args.device, {"setting": "default", "applied": False})
    report: dict[str, Any] = {
        "benchmark": "gpu_spmm", "command": speed.command_line(argv, Path(__file__).name),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": info, "machine_line": speed.machine_line(info),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "bandwidth": copy_bandwidth(device, args.repeats), "kernels": {}, "profile": {},
        "small_cases": small_cases(device)}
    print(f"torch.sparse.mm against the gather-sum, largest |difference|: "
          f"{report['small_cases']}", flush=True)
    for name in SHAPES:
        report["kernels"][name] = measure_kernels(name, args, device, report["bandwidth"])
        speed.write_atomic(out / "gpu_spmm.json", json.dumps(report, indent=2) + "\n")
        print(f"[{name}] kernels done", flush=True)
    for name in SHAPES:
        report["profile"][name] = profile_epochs(name, args, device)
        speed.write_atomic(out / "gpu_spmm.json", json.dumps(report, indent=2) + "\n")
        print(f"[{name}] profile done", flush=True)
    report["ablation"] = {}
    for name in SHAPES:
        report["ablation"][name] = ablation(name, args, device)
        speed.write_atomic(out / "gpu_spmm.json", json.dumps(report, indent=2) + "\n")
        print(f"[{name}] ablation: {report['ablation'][name]}", flush=True)
    text = markdown(report)
    speed.write_atomic(out / "gpu_spmm.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
