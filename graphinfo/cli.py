"""The ``graphinfo`` command line: ``pretrain``, ``evaluate`` and ``datasets``.

The CLI is a thin layer over the Python API: it loads a dataset, trains a model per seed with
:func:`graphinfo.train.fit`, evaluates with :mod:`graphinfo.evaluation`, prints a table and
writes its outputs atomically.
"""
from __future__ import annotations

import argparse
import ast
import logging
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from graphinfo import __version__
from graphinfo.io import save_json, save_torch

DEFAULT_DATASET = "planted"


def _format_mean_std(values: Sequence[float], scale: float = 100.0) -> str:
    mean = statistics.fmean(values) * scale
    std = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.2f} ± {std:.2f}"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _check_device(device: str) -> str:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda was given but no CUDA device is available; "
                         "use --device cpu")
    return device


#: Model arguments that have their own flag (an --option may not set them behind its back).
_FLAG_OPTIONS = {"hidden_channels": "--hidden", "num_layers": "--layers",
                 "encoder": "--encoder", "encoder_kwargs": "--layers / --encoder",
                 "estimator": "--estimator", "in_channels": "(the dataset's feature size)"}


def _model_options(options: Sequence[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs as model keyword arguments; values are Python literals
    (``variant=adaptive`` stays a string)."""
    parsed: dict[str, Any] = {}
    for option in options:
        key, sep, text = option.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--option must look like KEY=VALUE with a Python name as KEY, "
                             f"got {option!r}")
        if key in _FLAG_OPTIONS:
            raise ValueError(f"--option {key}=... duplicates a flag: use {_FLAG_OPTIONS[key]}")
        try:
            parsed[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed[key] = text
    return parsed


def _config(args: argparse.Namespace, dataset: Any, device: str, out: Path) -> dict[str, Any]:
    return {
        "command": "pretrain", "model": args.model, "dataset": dataset.name,
        "source": dataset.source, "seeds": list(range(args.seed, args.seed + args.seeds)),
        "epochs": args.epochs, "patience": args.patience, "lr": args.lr,
        "weight_decay": args.weight_decay, "hidden_channels": args.hidden,
        "encoder": args.encoder, "num_layers": args.layers, "estimator": args.estimator,
        "options": _model_options(args.option), "batch_size": args.batch_size,
        "feature_norm": args.feature_norm, "device": device, "out": str(out),
        "graphinfo": __version__, "torch": torch.__version__,
        "python": platform.python_version(),
    }


def pretrain(args: argparse.Namespace) -> int:
    from graphinfo.data import load_dataset
    from graphinfo.experiment import SeedRun, normalise_features, run_seed, summarise
    from graphinfo.models import GRAPH_LEVEL_MODELS, MODELS, is_graph_level
    from graphinfo.resolver import registered_name

    device = _check_device(args.device)
    if registered_name(args.model, MODELS) is None:
        raise ValueError(f"Unknown model {args.model!r}; expected one of: "
                         + ", ".join(repr(name) for name in MODELS))
    dataset = load_dataset(args.dataset, root=args.root)
    if is_graph_level(args.model):
        return _pretrain_graphs(args, dataset, device)
    if dataset.task != "node" or dataset.data is None:
        raise SystemExit(f"error: model {args.model!r} learns node embeddings; dataset "
                         f"{args.dataset!r} is a {dataset.task}-level dataset (graph-level "
                         f"models: {', '.join(sorted(GRAPH_LEVEL_MODELS))})")
    data = normalise_features(dataset.data, args.feature_norm)
    out = Path(args.out or f"runs/{args.model}-{dataset.name}")
    config = _config(args, dataset, device, out)
    config["epochs"] = args.epochs or 1000
    config["num_layers"] = args.layers or 1
    config["hidden_channels"] = args.hidden or 512   # build_model's default for dgi and gmi
    config.pop("batch_size")   # graph-level models only
    print(f"{args.model.upper()} on {dataset.name}: {data.num_nodes} nodes, {data.num_edges} "
          f"edges, {data.num_features} features, {dataset.num_classes} classes; "
          f"{args.seeds} seed(s) on {device}")
    results: list[dict[str, Any]] = []
    best: SeedRun | None = None
    model_kwargs: dict[str, Any] = {"encoder": args.encoder, "estimator": args.estimator,
                                    "encoder_kwargs": {"num_layers": config["num_layers"]},
                                    **config["options"]}
    if args.hidden is not None:
        model_kwargs["hidden_channels"] = args.hidden
    fit_kwargs = {"epochs": config["epochs"], "lr": args.lr,
                  "weight_decay": args.weight_decay, "patience": args.patience,
                  "progress": args.progress}
    for seed in config["seeds"]:
        run = run_seed(args.model, data, dataset.split, seed, model_kwargs=model_kwargs,
                       fit_kwargs=fit_kwargs, device=device)
        row = run.metrics
        results.append(row)
        print(f"  seed {seed}: test {100 * row['test_acc']:.2f}  valid "
              f"{100 * row['valid_acc']:.2f}  ({row['epochs']} epochs, "
              f"{row['train_seconds']:.1f} s)")
        if best is None or row["valid_acc"] > best.metrics["valid_acc"]:
            best = run
    summary = summarise(results, ("test_acc", "valid_acc", "nmi", "ari", "train_seconds"))
    rows = [["metric", f"mean ± std over {len(results)} seed(s)"]]
    for key, label in (("test_acc", "test accuracy (%)"), ("valid_acc", "valid accuracy (%)"),
                       ("nmi", "k-means NMI (%)"), ("ari", "k-means ARI (%)")):
        rows.append([label, _format_mean_std([r[key] for r in results])])
    rows.append(["train time (s)", _format_mean_std([r["train_seconds"] for r in results], 1.0)])
    print(_table(rows))
    assert best is not None
    _write_outputs(out, best, results, summary, config)
    print(f"wrote {out / 'embeddings.pt'} (seed {config['embeddings_seed']}, best validation "
          f"accuracy), model.pt, metrics.json and config.json")
    return 0


def _write_outputs(out: Path, best: Any, results: list[dict[str, Any]],
                   summary: dict[str, Any], config: dict[str, Any]) -> None:
    """Writes the chosen seed's embeddings and weights, the metrics and the config, each
    atomically."""
    config["embeddings_seed"] = best.metrics["seed"]
    save_torch(best.embeddings, out / "embeddings.pt")
    save_torch(best.state_dict, out / "model.pt")
    save_json({"dataset": config["dataset"], "model": config["model"], "per_seed": results,
               "summary": summary, "embeddings_seed": config["embeddings_seed"]},
              out / "metrics.json")
    save_json(config, out / "config.json")


def _model_default(model: str, argument: str) -> Any:
    """The default of a constructor argument of a registered model (for the config)."""
    import inspect

    from graphinfo.models import MODELS
    from graphinfo.resolver import registered_name

    name = registered_name(model, MODELS)
    parameter = inspect.signature(MODELS[name]).parameters.get(argument) if name else None
    return None if parameter is None or parameter.default is inspect.Parameter.empty \
        else parameter.default


def _pretrain_graphs(args: argparse.Namespace, dataset: Any, device: str) -> int:
    """``pretrain`` for a graph-level model: mini-batch training over the dataset's graphs and
    the SVM protocol (10-fold cross-validation, C chosen inside the training folds)."""
    from graphinfo.experiment import SeedRun, run_graph_seed, summarise

    if dataset.task != "graph" or dataset.dataset is None:
        raise SystemExit(f"error: model {args.model!r} learns graph embeddings; dataset "
                         f"{args.dataset!r} is a {dataset.task}-level dataset (try a TU dataset "
                         f"such as 'mutag')")
    graphs = dataset.dataset
    labels = graphs.y if getattr(graphs, "y", None) is not None else torch.cat(
        [graph.y for graph in graphs])
    out = Path(args.out or f"runs/{args.model}-{dataset.name}")
    config = _config(args, dataset, device, out)
    config["epochs"] = args.epochs or 20
    for unused in ("encoder", "patience", "feature_norm"):   # a node-level model's settings
        config.pop(unused)
    for key, value in (("hidden_channels", args.hidden), ("num_layers", args.layers)):
        config[key] = value if value is not None else _model_default(args.model, key)
    print(f"{args.model.upper()} on {dataset.name}: {len(graphs)} graphs, "
          f"{dataset.num_features} node features, {dataset.num_classes} classes; "
          f"{args.seeds} seed(s) on {device}")
    model_kwargs: dict[str, Any] = {"estimator": args.estimator, **config["options"]}
    if args.hidden is not None:
        model_kwargs["hidden_channels"] = args.hidden
    if args.layers is not None:
        model_kwargs["num_layers"] = args.layers
    fit_kwargs = {"epochs": config["epochs"], "lr": args.lr, "weight_decay": args.weight_decay,
                  "batch_size": args.batch_size, "progress": args.progress}
    results: list[dict[str, Any]] = []
    best: SeedRun | None = None
    for seed in config["seeds"]:
        run = run_graph_seed(args.model, graphs, labels, seed, model_kwargs=model_kwargs,
                             fit_kwargs=fit_kwargs, device=device)
        row = run.metrics
        results.append(row)
        print(f"  seed {seed}: 10-fold SVM accuracy {100 * row['accuracy']:.2f} "
              f"± {100 * row['accuracy_std']:.2f}  ({row['epochs']} epochs, "
              f"{row['train_seconds']:.1f} s)")
        # No validation split here: the saved embeddings are the first seed's, whatever their
        # accuracy (choosing by cross-validated accuracy would select on the test folds).
        if best is None:
            best = run
    summary = summarise(results, ("accuracy", "train_seconds"))
    rows = [["metric", f"mean ± std over {len(results)} seed(s)"],
            ["10-fold SVM accuracy (%)", _format_mean_std([r["accuracy"] for r in results])],
            ["train time (s)",
             _format_mean_std([r["train_seconds"] for r in results], 1.0)]]
    print(_table(rows))
    assert best is not None
    _write_outputs(out, best, results, summary, config)
    print(f"wrote {out / 'embeddings.pt'} (graph embeddings, seed "
          f"{config['embeddings_seed']}), model.pt, metrics.json and config.json")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from graphinfo.data import load_dataset
    from graphinfo.evaluation import clustering, linear_probe

    dataset = load_dataset(args.dataset, root=args.root)
    if dataset.data is None or dataset.split is None:
        raise SystemExit(f"error: dataset {args.dataset!r} has no node split to evaluate on")
    path = Path(args.embeddings)
    if not path.is_file():
        raise SystemExit(f"error: embeddings file {str(path)!r} does not exist")
    z = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.size(0) != dataset.data.num_nodes:
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise SystemExit(f"error: {str(path)!r} must hold a tensor of shape "
                         f"[{dataset.data.num_nodes}, F] for {dataset.name}, got {shape}")
    metrics = {**linear_probe(z, dataset.data.y, dataset.split),
               **clustering(z, dataset.data.y)}
    rows = [["metric", "value"]] + [[k, f"{v:.4f}"] for k, v in metrics.items()]
    print(_table(rows))
    if args.out:
        save_json({"embeddings": str(path), "dataset": dataset.name, **metrics}, args.out)
    return 0


def datasets(args: argparse.Namespace) -> int:
    from graphinfo.data import cache_dir, data_root, known_datasets

    entries = known_datasets(args.root)
    rows = [["name", "task", "family", "files found in"]]
    for entry in entries:
        found = entry.get("found") or "not found (downloaded into the cache on first use)"
        rows.append([entry["name"], entry["task"], entry["family"], str(found)])
    print(_table(rows))
    print(f"\ndata root: {data_root(args.root)} (--root, else $GRAPHINFO_DATA, else the cache)")
    print(f"processed files and downloads: {cache_dir()} ($GRAPHINFO_CACHE)")
    if args.paths:
        for entry in entries:
            if entry.get("search"):
                print(f"\n{entry['name']} is looked for in:")
                for folder in entry["search"]:
                    print(f"  {folder}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphinfo", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"graphinfo {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pretrain", help="train a model per seed, probe it, write embeddings")
    p.add_argument("--model", default="dgi",
                   help="dgi | gmi (node embeddings) | infograph (graph embeddings, on a TU "
                        "dataset) (default: dgi)")
    p.add_argument("--dataset", default=DEFAULT_DATASET,
                   help=f"dataset name, see `graphinfo datasets` (default: {DEFAULT_DATASET})")
    p.add_argument("--root", default=None, help="data folder (default: $GRAPHINFO_DATA or cache)")
    p.add_argument("--seeds", type=_positive_int, default=1, help="number of seeds (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default: 0)")
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help="maximum epochs (default: 1000 for node-level models, 20 for "
                        "graph-level ones)")
    p.add_argument("--patience", type=_positive_int, default=20,
                   help="early-stopping patience on the loss (default: 20)")
    p.add_argument("--hidden", type=_positive_int, default=None,
                   help="embedding size (default: the model's; 512 for dgi and gmi, 32 units "
                        "per layer for infograph)")
    p.add_argument("--layers", type=_positive_int, default=None,
                   help="encoder layers (default: the model's; 1 for dgi and gmi, 5 for "
                        "infograph)")
    p.add_argument("--encoder", default="gcn",
                   help="gcn | sage | gin | gat, node-level models (default: gcn)")
    p.add_argument("--batch-size", type=_positive_int, default=128,
                   help="graphs per batch for graph-level models (default: 128)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a model argument, repeatable, e.g. --option variant=adaptive for gmi "
                        "or --option prior=True for infograph")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 0.001)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="Adam weight decay")
    p.add_argument("--estimator", default="jsd",
                   help="jsd | dv | nwj | infonce | mine (default: jsd)")
    p.add_argument("--feature-norm", choices=("auto", "row", "none"), default="auto",
                   help="row-normalise features; auto: only when all are non-negative")
    p.add_argument("--device", default="cpu", help="cpu | cuda (default: cpu)")
    p.add_argument("--out", default=None, help="output folder (default: runs/MODEL-DATASET)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: only on a terminal)")
    p.set_defaults(func=pretrain)

    e = sub.add_parser("evaluate", help="linear probe and k-means on saved embeddings")
    e.add_argument("embeddings", help="a .pt file holding an [N, F] tensor")
    e.add_argument("--dataset", required=True, help="dataset whose labels and split to use")
    e.add_argument("--root", default=None, help="data folder")
    e.add_argument("--out", default=None, help="write the metrics to this JSON file")
    e.set_defaults(func=evaluate)

    d = sub.add_parser("datasets", help="list known datasets and where they are looked for")
    d.add_argument("--root", default=None, help="data folder (default: $GRAPHINFO_DATA or cache)")
    d.add_argument("--paths", action="store_true", help="list every folder searched")
    d.set_defaults(func=datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, FloatingPointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
