"""Reproduce DMGI and HDGI on heterogeneous / multiplex graphs (also run as
``benchmarks/reproduce.py --model dmgi|hdgi``).

The protocol of the papers (:func:`graphinfo.evaluation.hetero_node_protocol`): logistic
regression on the frozen embeddings with C chosen by validation Macro-F1, Macro-F1 and Micro-F1
on the test nodes, k-means NMI / ARI over 10 runs and Sim@k on the test nodes; mean ± std over
seeds. A homogeneous model (``--model dgi``) trains on one relation (``--relation PAP``), the
baseline "DGI on the best single metapath".

    python benchmarks/reproduce.py --model dmgi --datasets acm3025 --seeds 10
    python benchmarks/reproduce.py --model dmgi --pooling mean --datasets acm3025 --seeds 10
    python benchmarks/reproduce.py --model hdgi --datasets acm3025 imdb-hdgi --seeds 10
    python benchmarks/reproduce.py --model hdgi --datasets heco:dblp --dataset-kwargs \
        train_ratio=0.2 --seeds 10
    python benchmarks/reproduce.py --model dgi --relation PAP --datasets acm3025 --seeds 10

Writes ``<name>.{json,md}`` into ``--out`` after every seed (an interrupted run keeps what it
measured); ``--merge`` joins the reports of a run split over processes (``--first-seed``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from graphinfo.data import load_dataset
from graphinfo.experiment import normalise_features, run_seed, summarise
from graphinfo.io import atomic_write, save_json

#: Published figures (Macro-F1, Micro-F1, NMI; fractions), keyed by (model, dataset).
PAPER: dict[tuple[str, str], dict[str, float]] = {
    ("dmgi", "acm3025"): {"test_macro_f1": 0.898, "test_micro_f1": 0.898, "nmi": 0.687},
    ("hdgi", "heco:dblp"): {"test_macro_f1": 0.9094, "test_micro_f1": 0.9175},
}
#: The dataset arguments a published figure was measured with (another split is not comparable).
PAPER_DATASET_KWARGS: dict[tuple[str, str], dict[str, Any]] = {
    ("hdgi", "heco:dblp"): {"train_ratio": 0.2},
}
PAPER_SOURCES = {
    "dmgi": "Park et al., Unsupervised Attributed Multiplex Network Embedding, AAAI 2020, "
            "Tables 3-4 (unsupervised DMGI on ACM)",
    "hdgi": "Ren et al., Heterogeneous Deep Graph Infomax, 2019 (arXiv:1911.08538), Table 3 "
            "(HDGI-C on DBLP with 20 % training nodes)",
}
METRICS = ("test_macro_f1", "test_micro_f1", "nmi", "ari", "sim@5", "sim@50", "valid_macro_f1")

#: The authors' settings per model (DMGI: github.com/pcy1302/DMGI; HDGI: the paper).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "dmgi": {"model": {"hidden_channels": 64, "dropout": 0.5, "alpha": 1e-3},
             "fit": {"lr": 5e-4, "weight_decay": 1e-4, "patience": 20, "epochs": 10000}},
    "hdgi": {"model": {"hidden_channels": 64},
             "fit": {"lr": 1e-3, "weight_decay": 0.0, "patience": 20, "epochs": 10000}},
    "dgi": {"model": {"hidden_channels": 64},
            "fit": {"lr": 1e-3, "weight_decay": 0.0, "patience": 20, "epochs": 10000}},
}


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items: list[str] | None) -> dict[str, Any]:
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {item!r}")
        out[key] = _value(value)
    return out


def run_dataset(name: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    dataset = load_dataset(name, root=args.root, **args.dataset_kwargs)
    defaults = MODEL_DEFAULTS.get(args.model, {"model": {}, "fit": {}})
    model_kwargs = {**defaults["model"], **args.model_kwargs}
    fit_kwargs = {**defaults["fit"], **args.fit_kwargs, "progress": False}
    if args.epochs is not None:
        fit_kwargs["epochs"] = args.epochs
    if args.relation is not None:
        dataset = dataset.homogeneous(args.relation)
    data = normalise_features(dataset.data, "row")
    protocol, kwargs = "hetero_node", {}
    result = run_seed(args.model, data, dataset.split, seed, model_kwargs=model_kwargs,
                      fit_kwargs=fit_kwargs, probe=protocol, probe_kwargs=kwargs)
    if args.save_embeddings:
        folder = Path(args.save_embeddings)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(result.embeddings, folder / f"{name.replace(':', '_')}-seed{seed}.pt")
    return result.metrics


def _cell(summary: dict[str, Any], key: str) -> str:
    if key not in summary:
        return "—"
    return f"{100 * summary[key]['mean']:.2f} ± {100 * summary[key]['std']:.2f}"


def markdown(report: dict[str, Any]) -> str:
    model = report["model"]
    lines = [f"# {report['title']}", "", f"Command: `{report['command']}`  ",
             f"Machine: {report['machine']}  ", f"Date: {report['date']}", "",
             "Settings: " + report["settings_text"], "",
             "Protocol (graphinfo.evaluation.hetero_node_protocol): logistic regression on "
             "the raw embeddings (as the papers' code), C among 19 values from 1e-5 to 1e4 "
             "chosen by validation Macro-F1, test Macro-F1 / Micro-F1; k-means (k = classes, "
             "10 runs of 10 restarts) NMI and ARI on the test nodes; Sim@k: share of a test "
             "node's k most cosine-similar other test nodes with its label. Mean ± std over "
             "seeds (%).", "",
             "| dataset | seeds | Macro-F1 | Micro-F1 | NMI | ARI | Sim@5 | Sim@50 | valid "
             "Macro-F1 | paper Macro / Micro / NMI | epochs | s per seed |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, entry in report["datasets"].items():
        s = entry["summary"]
        paper = paper_figures(report, name)
        paper_text = " / ".join(f"{100 * paper[k]:.2f}" if k in paper else "—"
                                for k in ("test_macro_f1", "test_micro_f1", "nmi")) \
            if paper else "—"
        lines.append(f"| {name} | {s['test_macro_f1']['n']} | " + " | ".join(
            _cell(s, key) for key in METRICS) + f" | {paper_text} | "
            f"{s['epochs']['mean']:.0f} | {s['train_seconds']['mean']:.0f} |")
    quoted = [name for name in report["datasets"] if paper_figures(report, name)]
    source = (f"Paper ({', '.join(quoted)}): {PAPER_SOURCES[model]}." if quoted else
              "No published figure of this model on these datasets is quoted here.")
    lines += ["", source, "", "Per seed (Macro-F1 / Micro-F1 / NMI, %):", ""]
    for name, entry in report["datasets"].items():
        rows = ", ".join(f"{100 * r['test_macro_f1']:.1f}/{100 * r['test_micro_f1']:.1f}/"
                         f"{100 * r['nmi']:.1f}" for r in entry["per_seed"])
        lines.append(f"- {name}: {rows}")
    return "\n".join(lines) + "\n"


def paper_figures(report: dict[str, Any], name: str) -> dict[str, float] | None:
    """The published figures for this row, if it was measured as they were."""
    key = (report["model"], name.lower())
    wanted = PAPER_DATASET_KWARGS.get(key, {})
    given = report["settings"].get("dataset_kwargs") or {}
    if key not in PAPER or args_relation(report) is not None or any(
            given.get(k) != v for k, v in wanted.items()):
        return None
    return PAPER[key]


def args_relation(report: dict[str, Any]) -> str | None:
    return report["settings"].get("relation")


def _settings_text(args: argparse.Namespace) -> str:
    defaults = MODEL_DEFAULTS.get(args.model, {"model": {}, "fit": {}})
    model_kwargs = {**defaults["model"], **args.model_kwargs}
    fit_kwargs = {**defaults["fit"], **args.fit_kwargs}
    if args.epochs is not None:
        fit_kwargs["epochs"] = args.epochs
    text = (f"model {args.model} {json.dumps(model_kwargs, sort_keys=True)}, Adam "
            f"{json.dumps(fit_kwargs, sort_keys=True)} (early stopping on the training loss "
            f"with that patience, the lowest-loss weights kept), row-normalised features")
    if args.dataset_kwargs:
        text += f", dataset {json.dumps(args.dataset_kwargs, sort_keys=True)}"
    if args.relation:
        text += f", one relation: {args.relation}"
    return text + "."


def merge(paths: list[str], out: Path, name: str) -> dict[str, Any]:
    reports = [json.loads(Path(path).read_text()) for path in paths]
    merged = {**reports[0], "command": "` and `".join(r["command"] for r in reports),
              "date": max(r["date"] for r in reports), "datasets": {}}
    for report in reports:
        for dataset, entry in report["datasets"].items():
            merged["datasets"].setdefault(dataset, {"per_seed": []})["per_seed"] += \
                entry["per_seed"]
    for dataset, entry in merged["datasets"].items():
        seeds = [row["seed"] for row in entry["per_seed"]]
        if len(set(seeds)) != len(seeds):
            raise SystemExit(f"--merge: {dataset} has seeds {sorted(seeds)} more than once")
        entry["per_seed"].sort(key=lambda row: row["seed"])
        entry["summary"] = summarise(entry["per_seed"], (*METRICS, "epochs", "train_seconds"))
    save_json(merged, out / f"{name}.json")
    text = markdown(merged)
    atomic_write(out / f"{name}.md", lambda f: f.write(text), mode="w")
    print(text)
    return merged


def main(argv: list[str] | None = None) -> int:
    from reproduce import machine  # the same machine line as the other reproductions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dmgi", help="dmgi | hdgi | dgi (with --relation)")
    parser.add_argument("--datasets", nargs="+", default=["acm3025"])
    parser.add_argument("--dataset-kwargs", nargs="*", default=None, metavar="KEY=VALUE",
                        help="arguments of load_dataset, e.g. train_ratio=0.2")
    parser.add_argument("--model-kwargs", nargs="*", default=None, metavar="KEY=VALUE",
                        help="model arguments over the authors' settings, e.g. pooling=mean")
    parser.add_argument("--fit-kwargs", nargs="*", default=None, metavar="KEY=VALUE",
                        help="fit arguments over the authors' settings, e.g. lr=0.001")
    parser.add_argument("--pooling", default=None, help="DMGI: attention | mean")
    parser.add_argument("--relation", default=None,
                        help="train a homogeneous model on this one relation (e.g. PAP)")
    parser.add_argument("--epochs", type=int, default=None, help="epoch cap (default 10000)")
    parser.add_argument("--root", default=None, help="data folder (default: $GRAPHINFO_DATA)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--name", default=None)
    parser.add_argument("--merge", nargs="+", default=None, metavar="PART.json")
    parser.add_argument("--save-embeddings", default=None, metavar="DIR",
                        help="also save each seed's embeddings (torch.save) into DIR")
    args = parser.parse_args(argv)
    if args.merge:
        if args.name is None:
            parser.error("--merge needs --name")
        merge(args.merge, Path(args.out), args.name)
        return 0
    args.dataset_kwargs = _pairs(args.dataset_kwargs)
    args.model_kwargs = _pairs(args.model_kwargs)
    args.fit_kwargs = _pairs(args.fit_kwargs)
    if args.pooling is not None:
        args.model_kwargs["pooling"] = args.pooling
    name = args.name or f"reproduce_{args.model}" + (f"_{args.pooling}" if args.pooling else "")
    command = "python benchmarks/reproduce.py " + " ".join(argv if argv is not None
                                                           else sys.argv[1:])
    title = {"dmgi": "DMGI reproduction", "hdgi": "HDGI reproduction"}.get(
        args.model, f"{args.model} on heterogeneous graphs") + ": node classification, " \
        "clustering and similarity search"
    report: dict[str, Any] = {
        "title": title, "command": command.strip(), "model": args.model, "machine": machine(),
        "date": time.strftime("%Y-%m-%d"), "settings_text": _settings_text(args),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "name")},
        "datasets": {}}
    out = Path(args.out)
    for dataset in args.datasets:
        rows = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            metrics = run_dataset(dataset, seed, args)
            rows.append(metrics)
            print(f"{dataset} seed {seed}: Macro-F1 {100 * metrics['test_macro_f1']:.2f} "
                  f"Micro-F1 {100 * metrics['test_micro_f1']:.2f} NMI {100 * metrics['nmi']:.2f}"
                  f" ({metrics['epochs']} epochs, {metrics['train_seconds']:.0f} s)", flush=True)
            report["datasets"][dataset] = {
                "per_seed": rows,
                "summary": summarise(rows, (*METRICS, "epochs", "train_seconds"))}
            save_json(report, out / f"{name}.json")
            text = markdown(report)
            atomic_write(out / f"{name}.md", lambda f, text=text: f.write(text), mode="w")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
