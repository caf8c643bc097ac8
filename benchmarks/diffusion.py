"""Sparse approximate PPR of a large graph: graphinfo's kernel beside PyG's ``get_ppr``.

Each method runs in a child process of its own (peak memory is the child's maximum resident
set), on the same random undirected graph with self-loops (GDC's and MVGRL's A + I), and ends
with the same output: every node's ``top_k`` largest entries of the symmetric PPR
D^1/2 Pi D^-1/2. For PyG that is ``get_ppr`` (all pushed entries) then a top-k in torch.

    python benchmarks/diffusion.py --nodes 100000 --edges 1000000 --threads 2
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def make_graph(nodes: int, edges: int, seed: int) -> torch.Tensor:
    """About ``edges`` directed edges (both directions of ``edges / 2`` random pairs, repeats
    and self-pairs dropped), plus one self-loop per node."""
    from torch_geometric.utils import add_self_loops, coalesce, remove_self_loops

    generator = torch.Generator().manual_seed(seed)
    pairs = torch.randint(0, nodes, (2, edges // 2), generator=generator)
    edge_index = coalesce(torch.cat([pairs, pairs.flip(0)], 1), num_nodes=nodes)
    edge_index, _ = remove_self_loops(edge_index)
    return add_self_loops(edge_index, num_nodes=nodes)[0]


def _topk_rows(index: torch.Tensor, value: torch.Tensor, nodes: int, k: int) -> torch.Tensor:
    """The ``k`` largest entries of each row, as a mask over the entries (sort by row, then by
    decreasing value, keep ranks below k)."""
    order = torch.argsort(value, descending=True, stable=True)
    order = order[torch.argsort(index[0][order], stable=True)]
    counts = torch.bincount(index[0], minlength=nodes)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(order.numel()) - starts.repeat_interleave(counts)
    keep = torch.zeros(order.numel(), dtype=torch.bool)
    keep[order[rank < k]] = True
    return keep


def child(method: str, args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    edge_index = make_graph(args.nodes, args.edges, args.seed)
    start = time.perf_counter()
    if method == "graphinfo":
        from graphinfo.transforms.ppr import approximate_ppr

        # Compile on a tiny graph first: the figure is the run, compilation is reported apart.
        approximate_ppr(torch.tensor([[0, 1], [1, 0]]), 2, top_k=1)
        compiled = time.perf_counter()
        index, value = approximate_ppr(edge_index, args.nodes, alpha=args.alpha, eps=args.eps,
                                       top_k=args.k)
    else:
        import numba
        from torch_geometric.utils import get_ppr

        numba.set_num_threads(args.threads)
        get_ppr(torch.tensor([[0, 1], [1, 0]]), num_nodes=2)
        compiled = time.perf_counter()
        index, value = get_ppr(edge_index, alpha=args.alpha, eps=args.eps,
                               num_nodes=args.nodes)
        degree = torch.bincount(edge_index[0], minlength=args.nodes).double()
        value = (degree.sqrt()[index[0]] * value.double() / degree.sqrt()[index[1]]).float()
        keep = _topk_rows(index, value, args.nodes, args.k)
        index, value = index[:, keep], value[keep]
    seconds = time.perf_counter() - compiled
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"method": method, "seconds": seconds, "compile_seconds": compiled - start,
            "peak_mib": peak, "entries": int(index.size(1)),
            "checksum": float(value.double().sum())}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--alpha", type=float, default=0.15)
    parser.add_argument("--eps", type=float, default=1e-4, help="push tolerance")
    parser.add_argument("--k", type=int, default=128, help="entries kept per node")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", default=["graphinfo", "pyg"])
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args)))
        return 0
    passed = [a for a in (argv if argv is not None else sys.argv[1:])]
    runs = []
    for method in args.methods:
        done = subprocess.run([sys.executable, __file__, *passed, "--child", method],
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(runs[-1], flush=True)
    edges = int(make_graph(args.nodes, args.edges, args.seed).size(1))
    command = "python benchmarks/diffusion.py " + " ".join(passed)
    lines = ["# Sparse approximate PPR", "", f"Command: `{command}`  ",
             f"Machine: {platform.processor() or platform.machine()}, {args.threads} threads, "
             f"Python {platform.python_version()}, torch {torch.__version__}  ",
             f"Date: {time.strftime('%Y-%m-%d')}", "",
             f"Graph: {args.nodes:,} nodes, {edges:,} directed edges with self-loops (random, "
             f"undirected). PPR alpha {args.alpha}, push tolerance {args.eps}, the {args.k} "
             f"largest entries of each node's symmetric PPR kept. Seconds exclude numba's "
             f"compilation (own column); peak is the child process's maximum resident set.", "",
             "| method | seconds | compile s | peak MiB | entries kept | sum of kept |",
             "|---|---:|---:|---:|---:|---:|"]
    for run in runs:
        lines.append(f"| {run['method']} | {run['seconds']:.1f} | {run['compile_seconds']:.1f} "
                     f"| {run['peak_mib']:,.0f} | {run['entries']:,} | {run['checksum']:.2f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "diffusion.md").write_text("\n".join(lines) + "\n")
    (args.out / "diffusion.json").write_text(json.dumps({"command": command, "runs": runs},
                                                        indent=2) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
