"""The ``graphinfo`` command line: ``pretrain``, ``embed``, ``evaluate``, ``report`` and
``datasets``.

The CLI is a thin layer over the Python API: it loads a dataset, trains a model per seed with
:mod:`graphinfo.train`, evaluates with :mod:`graphinfo.evaluation`, prints a table and writes its
outputs atomically. It names no model: ``--model`` is resolved by
:func:`graphinfo.models.model_class` (a registered name or ``package.module:Class``) and what
to do with it is read from the model's contract (its level and defaults).
"""
from __future__ import annotations

import argparse
import ast
import logging
import math
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from graphinfo import __version__
from graphinfo.catalog import BUILTIN_MODELS, DEFAULT_MODEL

if TYPE_CHECKING:
    import torch

DEFAULT_DATASET = "planted"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _check_device(device: str) -> str:
    """``device`` if graphinfo can run there (``cpu``, ``cuda``, ``cuda:N`` of an existing
    GPU); otherwise a one-line error naming the choices."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {device!r}: graphinfo runs on cpu, cuda or cuda:N")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda was given but no CUDA device is available; "
                             "use --device cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device!r}: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    return device


def _check_model_settings(model: type, model_kwargs: dict[str, Any]) -> None:
    """Builds ``model`` once for 8 input features before any data loads, so that a wrong
    encoder, estimator, corruption or other setting fails in a moment rather than after a
    long load. Models that size themselves from the data's types or sizes (their own
    ``from_data`` or ``data_kwargs``) are checked when they are built for the data."""
    import inspect

    from graphinfo.models import MIModel, build_model

    for method in ("from_data", "data_kwargs"):
        if getattr(getattr(model, method), "__func__", None) is not \
                getattr(MIModel, method).__func__:
            return
    if "in_channels" not in inspect.signature(model).parameters:
        return
    build_model(model, in_channels=8, **model_kwargs)


def _load_data(name: str, root: str | None, features: str | None = None,
               labels: str | None = None, metapaths: str | None = None) -> Any:
    """``load_dataset`` for the CLI: a registered name from ``root`` (a given root: no
    download attempt), or a graph file with its optional features and labels files;
    ``metapaths`` (``'PAP,PSP'``) for a heterogeneous dataset."""
    from graphinfo.data import is_graph_file, load_dataset
    from graphinfo.data.loaders import is_hetero_name

    if is_graph_file(name):
        if metapaths is not None:
            raise ValueError("--metapaths goes with a heterogeneous dataset, not a graph file")
        return load_dataset(name, features=features, labels=labels)
    if features is not None or labels is not None:
        raise ValueError(f"--features and --labels go with a graph file as --dataset; "
                         f"{name!r} is a registered dataset with its own")
    extra = {}
    if metapaths is not None:
        if not is_hetero_name(name):
            raise ValueError(f"--metapaths goes with a heterogeneous dataset; {name!r} is "
                             f"homogeneous")
        extra["metapaths"] = metapaths
    return load_dataset(name, root=root, download=root is None, **extra)


def _model_view(model: type, dataset: Any, relation: str | None) -> Any:
    """The dataset as ``model`` reads it (:func:`graphinfo.models.multiplex.dataset_for`),
    saying so when a homogeneous model gets one relation of a heterogeneous graph."""
    from graphinfo.models.multiplex import dataset_for

    if dataset.task != "node":
        if relation is not None:
            raise ValueError("--relation goes with a heterogeneous node dataset")
        return dataset
    view = dataset_for(model, dataset, relation)
    if view is not dataset:
        print(f"{_display_name(model)} reads one graph: {dataset.name}'s "
              f"{view.data.relation} relation among its {dataset.target} nodes (--relation "
              f"to choose another; heterogeneous models read them all)")
    return view


def _dataset_reference(name: str, features: str | None,
                       labels: str | None) -> dict[str, Any]:
    """How ``config.json`` names the data so that replay, ``embed`` and ``evaluate`` find it
    from any folder: a graph file (and its features and labels files) by absolute path."""
    from graphinfo.data import is_graph_file

    if not is_graph_file(name):
        return {}
    return {"dataset": os.path.abspath(name),
            "features": os.path.abspath(features) if features else None,
            "labels": os.path.abspath(labels) if labels else None}


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


def _config(args: argparse.Namespace, model: type, dataset: Any, device: str, out: Path,
            model_kwargs: dict[str, Any], level: str) -> dict[str, Any]:
    """What ``config.json`` records: enough to rebuild the model
    (:func:`graphinfo.load_run`: ``model``, ``model_kwargs``, ``in_channels``) and to find the
    data again (``dataset``, ``root``, ``feature_norm``), the settings and the versions."""
    import torch

    from graphinfo.data import data_root
    from graphinfo.models import model_name
    from graphinfo.models.base import describe_settings, feature_size
    from graphinfo.outputs import new_run_id

    try:
        in_channels: int | None = feature_size(dataset.data if level == "node"
                                               else dataset.dataset)
    except ValueError:      # e.g. a HeteroData: load_run then needs the data to size the model
        in_channels = None
    return {
        "command": "pretrain", "model": model_name(model), "level": level,
        "dataset": dataset.name, "root": os.path.abspath(data_root(args.root)),
        "source": dataset.source, "seeds": list(range(args.seed, args.seed + args.seeds)),
        "lr": args.lr if args.lr is not None else model.defaults.lr,
        "weight_decay": (args.weight_decay if args.weight_decay is not None
                         else model.defaults.weight_decay),
        "max_grad_norm": (args.max_grad_norm if args.max_grad_norm is not None
                          else model.defaults.max_grad_norm),
        **describe_settings(model, model_kwargs), "options": _model_options(args.option),
        "in_channels": in_channels, "model_kwargs": model_kwargs, "flags": _flags(args),
        **_dataset_reference(args.dataset, args.features, args.labels),
        "device": device, "out": str(out), "run_id": new_run_id(),
        "graphinfo": __version__, "torch": torch.__version__,
        "python": platform.python_version(),
    }


#: Parsed arguments of ``pretrain`` that are not flags a replay takes over.
_NOT_REPLAYED = ("func", "command", "config", "verbose", "debug", "overwrite", "resume")


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """``pretrain``'s flags as parsed (for ``config.json``, so ``--config`` can replay them)."""
    return {key: value for key, value in vars(args).items() if key not in _NOT_REPLAYED}


def _replay_defaults(path: str) -> dict[str, Any]:
    """The flags of the run whose configuration ``path`` is (a run folder or its
    ``config.json``), as defaults for ``pretrain --config``: the data root as the run resolved
    it and, unless ``--out`` is given, the run's folder with ``-replay`` appended (the run
    itself is never overwritten)."""
    from graphinfo.runs import read_config

    config = read_config(path)
    flags = config.get("flags")
    if not isinstance(flags, dict):
        raise ValueError(f"{path} records no 'flags' (a run of an earlier graphinfo): it "
                         f"cannot be replayed; give the flags again")
    defaults = dict(flags)
    if config.get("root"):
        defaults["root"] = config["root"]
    if "features" in config:        # a graph file: the absolute paths the run recorded
        defaults.update(dataset=config["dataset"], features=config["features"],
                        labels=config["labels"])
    defaults["out"] = f"{config.get('out') or flags.get('out') or 'runs/run'}-replay"
    return defaults


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parses ``argv``; ``pretrain --config RUN`` takes the run's flags as defaults (flags
    given on the command line win)."""
    args = build_parser().parse_args(argv)
    if getattr(args, "resume", False) and args.out is not None and args.config is None:
        from graphinfo.progress import read_progress

        record = read_progress(args.out)
        if record is not None:      # the killed run's flags are the defaults
            flags = {key: value for key, value in record["flags"].items()
                     if key not in _NOT_REPLAYED}
            return build_parser(replay={**flags, "out": args.out}).parse_args(argv)
    if getattr(args, "config", None) is None:
        return args
    return build_parser(replay=_replay_defaults(args.config)).parse_args(argv)


def _model_kwargs(args: argparse.Namespace, model: type) -> dict[str, Any]:
    """The model's constructor arguments from the generic flags and ``--option``s."""
    from graphinfo.models.base import constructor_kwargs

    return constructor_kwargs(model, hidden_channels=args.hidden, num_layers=args.layers,
                              encoder=args.encoder, estimator=args.estimator,
                              **_model_options(args.option))


def _minibatch_settings(args: argparse.Namespace) -> dict[str, Any] | None:
    """``fit_minibatch`` arguments from the flags, or ``None`` for full-batch training."""
    from graphinfo import distributed

    if args.batch_size is None:
        if args.num_neighbors is not None or args.summary is not None:
            raise ValueError("--num-neighbors and --summary set mini-batch training: add "
                             "--batch-size")
        if distributed.is_distributed():
            raise ValueError("training on several processes samples mini-batches: add "
                             "--batch-size (seed nodes per batch and process)")
        return None
    return {"batch_size": args.batch_size, "num_neighbors": args.num_neighbors,
            "summary": args.summary or "batch"}


def _minibatch_text(minibatch: dict[str, Any] | None) -> str:
    from graphinfo import distributed

    if minibatch is None:
        return ", full-batch"
    fanout = minibatch["num_neighbors"] or "10 per layer"
    text = (f", mini-batches of {minibatch['batch_size']} seed nodes (neighbours {fanout}, "
            f"{minibatch['summary']} summary)")
    return text + (f" on {distributed.world_size()} processes" if distributed.is_distributed()
                   else "")


def _levels_text(level: str) -> str:
    """The registered models of a level, for error messages."""
    from graphinfo.models import MODELS

    names = [name for name, cls in MODELS.items() if cls.level in (level, "both")]
    return ", ".join(sorted(names)) or "none registered"


def _importable_from_here() -> None:
    """Puts the working directory on ``sys.path`` (as ``python -m`` does), so that
    ``--model package.module:Class`` finds a package in it when run as the ``graphinfo``
    script."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())


def pretrain(args: argparse.Namespace) -> int:
    from graphinfo import distributed
    from graphinfo.models import model_class
    from graphinfo.models.base import model_level

    device = _check_device(args.device)
    if args.seed + args.seeds - 1 > MAX_SEED:
        raise ValueError(f"--seed {args.seed} with --seeds {args.seeds} runs seeds beyond "
                         f"{MAX_SEED} (the largest random state)")
    if ":" in args.model:
        _importable_from_here()
    model = model_class(args.model)            # a wrong name fails before any data is read
    _check_model_settings(model, _model_kwargs(args, model))
    if not distributed.is_main_process():
        distributed.barrier()   # rank 0 loads (and processes into the cache) first
    dataset = _load_data(args.dataset, args.root, args.features, args.labels, args.metapaths)
    if distributed.is_main_process():
        distributed.barrier()
    if dataset.task == "graph":
        if model_level(model) == "node":
            raise SystemExit(f"error: model {args.model!r} learns node embeddings; dataset "
                             f"{args.dataset!r} is a graph-level dataset (graph-level models: "
                             f"{_levels_text('graph')})")
        return _pretrain_graphs(args, model, dataset, device)
    if model_level(model) == "graph":
        raise SystemExit(f"error: model {args.model!r} learns graph embeddings; dataset "
                         f"{args.dataset!r} is a {dataset.task}-level dataset (try a TU dataset "
                         f"such as 'mutag')")
    if dataset.data is None:
        raise SystemExit(f"error: dataset {args.dataset!r} holds no graph to learn node "
                         f"embeddings of")
    dataset = _model_view(model, dataset, args.relation)
    return _pretrain_nodes(args, model, dataset, device)


def _pretrain_nodes(args: argparse.Namespace, model: type, dataset: Any, device: str) -> int:
    """``pretrain`` for node embeddings: full-batch or mini-batch training per seed, the
    linear probe (C chosen on the valid split) and k-means."""
    from graphinfo import distributed
    from graphinfo.experiment import normalise_features

    data = normalise_features(dataset.data, args.feature_norm)
    out = _output_folder(args, dataset)
    if out is None:
        return 0
    model_kwargs = {**model.data_kwargs(data), **_model_kwargs(args, model)}
    _check_memory(model, model_kwargs, dataset.num_features,
                  args.batch_size or _num_nodes(dataset))
    config = _config(args, model, dataset, device, out, model_kwargs, "node")
    defaults = model.defaults
    config["epochs"] = args.epochs or defaults.epochs
    config["patience"] = args.patience if args.patience is not None else defaults.patience
    config["feature_norm"] = args.feature_norm
    if getattr(dataset.data, "relation", None) is not None:
        config["relation"] = dataset.data.relation   # embed / evaluate read the same view
    minibatch = _minibatch_settings(args)
    if minibatch is not None:
        config.update(batch_size=args.batch_size, minibatch=minibatch,
                      processes=distributed.world_size())
    print(f"{_display_name(model)} on {dataset.name}: {_graph_text(dataset)}, "
          f"{dataset.num_features} features, "
          f"{_classes_text(dataset.num_classes)}; {args.seeds} seed(s) on {device}"
          + _minibatch_text(minibatch))
    fit_kwargs = {"epochs": config["epochs"], "lr": config["lr"],
                  "weight_decay": config["weight_decay"], "patience": config["patience"],
                  "max_grad_norm": config["max_grad_norm"], "progress": args.progress}
    progress = _open_progress(args, out, config)
    try:
        _train_node_seeds(args, model, dataset, data, device, out, config,
                          {"model_kwargs": model_kwargs, "fit_kwargs": fit_kwargs,
                           "minibatch": minibatch}, progress)
    except BaseException:
        if progress is not None:
            progress.close(remove=False)     # kept for --resume
        raise
    if progress is not None:
        progress.close(remove=True)
    return 0


def _train_node_seeds(args: argparse.Namespace, model: type, dataset: Any, data: Any,
                      device: str, out: Path, config: dict[str, Any],
                      settings: dict[str, Any], progress: Any) -> None:
    """Trains, evaluates and records every seed of a node-level ``pretrain`` (``settings``:
    ``model_kwargs``, ``fit_kwargs`` and ``minibatch`` of :func:`run_seed`; the seeds a killed
    run finished come from its ``progress``), prints the table and writes the output set."""
    from graphinfo import distributed
    from graphinfo.experiment import SeedRun, run_seed, summarise

    results: list[dict[str, Any]] = []
    curves: dict[str, Any] = {}
    best_row: dict[str, Any] | None = None
    best_run: SeedRun | None = None
    probe, probe_kwargs = dataset.probe_protocol()
    labelled = dataset.split is not None
    evaluation = _evaluation_note(probe, probe_kwargs) if labelled else {}
    if evaluation:
        config["evaluation"] = evaluation
        print(f"  scored by ogb.nodeproppred.Evaluator({evaluation['evaluator']!r}): "
              f"{evaluation['metric']}, linear probe with C chosen on the valid split")
    if not labelled:
        print(f"  {dataset.name} has no node labels: the embeddings are trained and written "
              f"but not evaluated (a graph file takes labels from --labels FILE)")
    metric = evaluation.get("metric") or ("macro_f1" if probe == "hetero_node" else "acc")
    baselines = args.baselines and labelled
    raw: dict[str, Any] = {}
    if baselines and distributed.is_main_process():
        from graphinfo.experiment import probe_scores

        x = data[dataset.target].x if dataset.is_hetero else data.x
        x = x.to_dense() if x.is_sparse else x
        raw_scores = probe_scores(x, dataset.labels, dataset.split, probe, probe_kwargs)
        raw = {f"raw_{key}": value for key, value in raw_scores.items()
               if key.startswith(("valid_", "test_"))}
    done = _finished_seeds(progress)
    for seed in config["seeds"]:
        run = None
        if seed in done:
            row, curves[str(seed)] = done[seed]["metrics"], done[seed]["curves"]
        else:
            run = run_seed(model, data, dataset.split, seed,
                           model_kwargs=settings["model_kwargs"],
                           fit_kwargs=_seed_fit_kwargs(args, out, settings["fit_kwargs"], seed),
                           device=device, probe=probe, probe_kwargs=probe_kwargs,
                           minibatch=settings["minibatch"], untrained_baseline=baselines)
            if not distributed.is_main_process():
                continue    # rank 0 evaluates, prints and writes
            row, curves[str(seed)] = {**run.metrics, **raw}, run.curves
        results.append(row)
        scores = (f"test {100 * row[f'test_{metric}']:.2f}  valid "
                  f"{100 * row[f'valid_{metric}']:.2f}  " if labelled else "")
        if baselines:
            scores += f"(untrained encoder: test {100 * row[f'untrained_test_{metric}']:.2f})  "
        print(f"  seed {seed}: {scores}({row['epochs']} epochs, {row['train_seconds']:.1f} s)"
              + (" (finished before the resume)" if run is None else ""))
        better = best_row is None or (labelled and row[f"valid_{metric}"]
                                      > best_row[f"valid_{metric}"])
        if better:
            best_row, best_run = row, run
        if run is not None and seed != config["seeds"][-1]:
            # The last seed is not recorded: the output set follows at once, and a kill before
            # it is resumed from the seed's final checkpoint (no second copy of its outputs).
            progress.record_seed(seed, row, curves[str(seed)],
                                 outputs=(run.embeddings, run.state_dict) if better else None)
    if not distributed.is_main_process():
        return
    name = _METRIC_NAMES.get(metric, metric)
    keys = [key for key in (f"test_{metric}", "test_micro_f1", f"valid_{metric}", "nmi", "ari",
                            "sim@5", "sim@50", f"untrained_test_{metric}", f"raw_test_{metric}")
            if key in results[0]]
    summary = summarise(results, (*keys, "train_seconds"))
    print(_summary_table(summary))
    if baselines:
        print(_baseline_line(summary, metric))
    assert best_row is not None
    best = _seed_run(best_row, best_run, progress)
    chosen = "best validation " + name if labelled else "the first seed: no labels to choose by"

    def write(folder: Path) -> None:
        _write_outputs(folder, best, results, summary, config, evaluation, curves)
        if args.plots:
            # plot_embedding colours by y when it is one class per node, else one colour.
            _write_plots(folder, curves, best.embeddings,
                         dataset.labels if labelled else None, config)

    out = _write_output_set(args, out, config, write)
    print(f"wrote {out / 'embeddings.pt'} (seed {config['embeddings_seed']}, {chosen}), "
          f"{_other_files(out)}")


def _seed_run(row: dict[str, Any], run: Any, progress: Any) -> Any:
    """The :class:`graphinfo.experiment.SeedRun` of a seed: ``run`` when it trained now, else
    rebuilt from the outputs its ``progress`` kept before the kill."""
    from graphinfo.experiment import SeedRun

    if run is not None:
        return SeedRun(row, run.embeddings, run.state_dict, run.curves)
    embeddings, state_dict = progress.outputs(int(row["seed"]))
    return SeedRun(row, embeddings, state_dict)


def _graph_text(dataset: Any) -> str:
    """``'2708 nodes, 10556 edges'``; for a heterogeneous graph its target nodes and the
    relations among them."""
    data = dataset.data
    if not dataset.is_hetero:
        relation = getattr(data, "relation", None)
        return (f"{data.num_nodes} nodes, {data.num_edges} edges"
                + (f" (its {relation} relation)" if relation else ""))
    from graphinfo.models.multiplex import multiplex_relations

    relations = multiplex_relations(data)[1]
    edges = ", ".join(f"{r[1]} {data[r].num_edges}" for r in relations)
    return f"{data[dataset.target].num_nodes} {dataset.target} nodes, relations ({edges} edges)"


def _classes_text(num_classes: int) -> str:
    return f"{num_classes} classes" if num_classes else "no labels"


def _baseline_line(summary: dict[str, dict[str, float]], metric: str) -> str:
    """One line setting the trained encoder's test score beside the untrained encoder's and
    the raw features' (all through the same probe)."""
    trained, untrained, raw = (100 * summary[key]["mean"] for key in
                               (f"test_{metric}", f"untrained_test_{metric}",
                                f"raw_test_{metric}"))
    name = _METRIC_NAMES.get(metric, metric)
    return (f"training gained {trained - untrained:+.2f} points of test {name} over the "
            f"untrained encoder ({untrained:.2f}) and {trained - raw:+.2f} over the raw "
            f"features ({raw:.2f}), same probe")


def _display_name(model: type) -> str:
    """A registered model's name in capitals (as the tables print it), else its class name."""
    from graphinfo.models import model_name

    name = model_name(model)
    return model.__name__ if ":" in name else name.upper()


def _run_name(model: str, dataset: Any) -> str:
    """The default output folder's name: ``MODEL-DATASET`` (a class path's class name)."""
    return f"{model.rpartition(':')[2].lower()}-{dataset.name}"


#: How ``pretrain`` names a probe metric in its table.
_METRIC_NAMES = {"acc": "accuracy", "rocauc": "ROC-AUC", "macro_f1": "Macro-F1",
                 "micro_f1": "Micro-F1"}


def _summary_label(key: str) -> str:
    """A summarised metric's row label: ``test_acc`` -> ``test accuracy (%)`` and so on."""
    for prefix, what in (("untrained_", "untrained encoder"), ("raw_", "raw features")):
        if key.startswith(prefix):
            return f"{what}: {_summary_label(key[len(prefix):])}"
    if key == "train_seconds":
        return "train time (s)"
    if key == "accuracy":
        return "10-fold SVM accuracy (%)"
    if key in ("nmi", "ari"):
        return f"k-means {key.upper()} (%)"
    if key.startswith("sim@"):
        return f"similarity search Sim@{key[4:]} (%)"
    split, _, metric = key.partition("_")
    if split in ("train", "valid", "test") and metric:
        return f"{split} {_METRIC_NAMES.get(metric, metric)} (%)"
    return key


def _summary_table(summary: dict[str, dict[str, float]]) -> str:
    """The table ``pretrain`` prints (and ``report`` again): mean ± std over the seeds of each
    summarised metric, in percent except the train time."""
    count = max((stats.get("n", 0) for stats in summary.values()), default=0)
    rows = [["metric", f"mean ± std over {count} seed(s)"]]
    for key, stats in summary.items():
        scale = 1.0 if key == "train_seconds" else 100.0
        rows.append([_summary_label(key),
                     f"{stats['mean'] * scale:.2f} ± {stats['std'] * scale:.2f}"])
    return _table(rows)


def _evaluation_note(probe: str, probe_kwargs: dict[str, Any]) -> dict[str, Any]:
    """What scored the embeddings, for the outputs: empty for the plain linear probe, else
    the protocol, the OGB Evaluator's dataset name and its metric."""
    if probe != "ogb":
        return {}
    from ogb.nodeproppred import Evaluator

    evaluator = Evaluator(probe_kwargs["name"])
    return {"protocol": "ogb", "evaluator": evaluator.name, "metric": evaluator.eval_metric}


def _num_nodes(dataset: Any) -> int:
    data = dataset.data
    if dataset.is_hetero:
        return int(data[dataset.target].num_nodes)
    return int(data.num_nodes)


def _check_memory(model: type, model_kwargs: dict[str, Any], num_features: int,
                  num_nodes: int) -> None:
    """Refuses, before training, sizes whose weights and activations alone exceed this
    machine's memory (a mistyped ``--hidden 1000000000``): a lower bound of
    ``4 * hidden * (features + 8 * nodes)`` bytes (float32 weights of one layer, and eight
    node-by-hidden tensors: both views' activations and their gradients)."""
    hidden = model_kwargs.get("hidden_channels") or model.defaults.hidden_channels or 0
    needed = 4 * int(hidden) * (int(num_features) + 8 * int(num_nodes))
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):   # not POSIX: no estimate
        return
    if needed > available:
        raise ValueError(f"--hidden {hidden} needs at least {needed / 2**30:,.1f} GiB for "
                         f"{num_nodes:,} nodes and {num_features:,} features; this machine "
                         f"has {available / 2**30:,.1f} GiB")


def _output_folder(args: argparse.Namespace, dataset: Any) -> Path | None:
    """``--out`` (default ``runs/MODEL-DATASET``), checked before any training: creatable,
    writable, not a file, and not holding another run unless ``--overwrite``.

    With ``--resume``: ``None`` when ``--out`` already holds the run's complete set (it was
    killed after writing it, or has finished), after saying so; an error when there is nothing
    to resume. A resumed run that was started with ``--overwrite`` overwrites still."""
    from graphinfo import distributed
    from graphinfo.outputs import check_output_folder
    from graphinfo.progress import RunProgress, read_progress
    from graphinfo.runs import read_config

    out = Path(args.out or f"runs/{_run_name(args.model, dataset)}")
    if not args.resume:
        return check_output_folder(out, overwrite=args.overwrite)
    record = read_progress(out) if not out.is_file() else None
    written = read_config(out).get("run_id") if (out / "config.json").is_file() else None
    if written is not None and (record is None or record["run_id"] == written):
        if record is not None and distributed.is_main_process():  # killed after the set
            RunProgress.open(out, run_id=written, flags=record["flags"],
                             seeds=record["seeds"], resume=True).close(remove=True)
        print(f"{out} holds the complete run {written}: nothing to resume")
        return None
    if record is None:
        raise ValueError(f"--resume: no run in progress for --out {out} (nothing was killed "
                         f"there); start the run without --resume")
    args.overwrite = args.overwrite or bool(record.get("overwrite"))
    return check_output_folder(out, overwrite=args.overwrite)


def _open_progress(args: argparse.Namespace, out: Path, config: dict[str, Any]) -> Any:
    """Takes the run's progress beside ``out`` (:class:`graphinfo.progress.RunProgress`) on
    the process that writes; a resumed run keeps its id. ``None`` on the other processes."""
    from graphinfo import distributed
    from graphinfo.progress import RunProgress

    if not distributed.is_main_process():
        return None
    progress = RunProgress.open(out, run_id=config["run_id"], flags=config["flags"],
                                seeds=config["seeds"], resume=args.resume,
                                overwrite=args.overwrite)
    config["run_id"] = progress.run_id
    return progress


def _finished_seeds(progress: Any) -> dict[int, dict[str, Any]]:
    """The seeds a resumed run finished before it was killed (every process learns them from
    the writing one)."""
    from graphinfo import distributed

    done = progress.finished() if progress is not None else {}
    if distributed.is_distributed():
        import torch

        box = [done]
        torch.distributed.broadcast_object_list(box, src=0)
        done = box[0]
    if done:
        print(f"  resuming run {progress.run_id if progress else ''}: seed(s) "
              f"{', '.join(map(str, done))} finished before it stopped")
    return done


def _seed_fit_kwargs(args: argparse.Namespace, out: Path, fit_kwargs: dict[str, Any],
                     seed: int) -> dict[str, Any]:
    """``fit_kwargs`` with the seed's checkpoint beside ``out``, resumed when it exists
    (none with ``--checkpoint-every 0``)."""
    from graphinfo.progress import progress_folder

    if args.checkpoint_every == 0:
        return fit_kwargs
    return {**fit_kwargs, "checkpoint": progress_folder(out) / f"seed-{seed}.ckpt",
            "checkpoint_every": args.checkpoint_every, "resume": True}


def _other_files(out: Path) -> str:
    """The files of the run besides ``embeddings.pt``, as a phrase."""
    names = ["model.pt", "metrics.json", "config.json"] + [
        name for name in ("loss.png", "embedding.png") if (out / name).exists()]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _write_output_set(args: argparse.Namespace, out: Path, config: dict[str, Any],
                      write: Any) -> Path:
    """Writes the run's files as one set (:func:`graphinfo.outputs.write_output_set`); says
    where they went when another run took ``out`` while this one trained."""
    from graphinfo.outputs import write_output_set

    written = write_output_set(out, write, overwrite=args.overwrite, run_id=config["run_id"])
    if written != out:
        print(f"note: {out} was written by another run while this one trained; this run's "
              f"outputs are in {written} (--overwrite replaces instead)")
    return written


def _write_outputs(out: Path, best: Any, results: list[dict[str, Any]],
                   summary: dict[str, Any], config: dict[str, Any],
                   evaluation: dict[str, Any] | None = None,
                   curves: dict[str, Any] | None = None) -> None:
    """Writes the chosen seed's embeddings and weights, the metrics (with ``evaluation``, when
    given, and each seed's per-epoch ``curves``) and the config, each atomically."""
    from graphinfo.io import save_json, save_torch

    config["embeddings_seed"] = best.metrics["seed"]
    save_torch(best.embeddings, out / "embeddings.pt")
    save_torch(best.state_dict, out / "model.pt")
    metrics = {"dataset": config["dataset"], "model": config["model"],
               "run_id": config.get("run_id"), "per_seed": results,
               "summary": summary, "embeddings_seed": config["embeddings_seed"],
               "curves": curves or {}}
    if evaluation:
        metrics["evaluation"] = evaluation
    save_json(metrics, out / "metrics.json")
    save_json(config, out / "config.json")


def _write_plots(out: Path, curves: dict[str, Any], z: Any, labels: Any,
                 config: dict[str, Any]) -> None:
    """``loss.png`` (every seed's loss per epoch) and ``embedding.png`` (a 2-D map of the
    saved embeddings, coloured by label), or one line saying why they were skipped."""
    from graphinfo.plots import plot_embedding, plot_losses, require_matplotlib

    try:
        require_matplotlib()
    except ImportError as error:
        print(f"plots skipped: {error}; --no-plots turns them off")
        return
    name = f"{config['model']} on {config['dataset']}"
    plot_losses({seed: curve["loss"] for seed, curve in curves.items()}, out / "loss.png",
                title=f"{name}: training loss")
    plot_embedding(z, labels, out / "embedding.png", seed=config["embeddings_seed"],
                   title=f"{name}, seed {config['embeddings_seed']}")


def _pretrain_graphs(args: argparse.Namespace, model: type, dataset: Any, device: str) -> int:
    """``pretrain`` for graph embeddings: mini-batch training over the dataset's graphs for a
    fixed budget and the SVM protocol (10-fold cross-validation, C chosen inside the training
    folds)."""
    from graphinfo import distributed

    if args.num_neighbors is not None or args.summary is not None:
        raise ValueError(f"--num-neighbors and --summary apply to node-level models; "
                         f"{args.model!r} trains on batches of whole graphs (--batch-size)")
    if args.patience is not None:
        raise ValueError(f"--patience applies to node-level models; {args.model!r} trains "
                         f"graph embeddings for a fixed number of epochs (--epochs)")
    if distributed.is_distributed():
        raise ValueError("training on several processes covers node embeddings; graph "
                         "embeddings train on one process")
    graphs = dataset.dataset
    labels = _graph_labels(graphs) if dataset.num_classes else None
    out = _output_folder(args, dataset)
    if out is None:
        return 0
    model_kwargs = {**model.data_kwargs(graphs), **_model_kwargs(args, model)}
    _check_memory(model, model_kwargs, dataset.num_features,
                  sum(int(graph.num_nodes) for graph in graphs[:args.batch_size or 128]))
    config = _config(args, model, dataset, device, out, model_kwargs, "graph")
    defaults = model.defaults
    config["epochs"] = args.epochs or defaults.epochs
    config["batch_size"] = args.batch_size or defaults.batch_size or 128
    print(f"{_display_name(model)} on {dataset.name}: {len(graphs)} graphs, "
          f"{dataset.num_features} node features, {_classes_text(dataset.num_classes)}; "
          f"{args.seeds} seed(s) on {device}")
    fit_kwargs = {"epochs": config["epochs"], "lr": config["lr"],
                  "weight_decay": config["weight_decay"],
                  "max_grad_norm": config["max_grad_norm"],
                  "batch_size": config["batch_size"], "progress": args.progress}
    if labels is None:
        print(f"  {dataset.name}'s graphs have no labels: the embeddings are trained and "
              f"written but not evaluated")
    progress = _open_progress(args, out, config)
    try:
        _train_graph_seeds(args, model, graphs, labels, device, out, config,
                           {"model_kwargs": model_kwargs, "fit_kwargs": fit_kwargs}, progress)
    except BaseException:
        progress.close(remove=False)     # kept for --resume
        raise
    progress.close(remove=True)
    return 0


def _train_graph_seeds(args: argparse.Namespace, model: type, graphs: Any, labels: Any,
                       device: str, out: Path, config: dict[str, Any],
                       settings: dict[str, Any], progress: Any) -> None:
    """Trains, scores and records every seed of a graph-level ``pretrain`` (``settings``:
    ``model_kwargs`` and ``fit_kwargs`` of :func:`run_graph_seed`; the seeds a killed run
    finished come from its ``progress``), prints the table and writes the output set."""
    from graphinfo.experiment import SeedRun, run_graph_seed, summarise

    results: list[dict[str, Any]] = []
    curves: dict[str, Any] = {}
    first: tuple[dict[str, Any], SeedRun | None] | None = None
    done = _finished_seeds(progress)
    for seed in config["seeds"]:
        run = None
        if seed in done:
            row, curves[str(seed)] = done[seed]["metrics"], done[seed]["curves"]
        else:
            run = run_graph_seed(model, graphs, labels, seed,
                                 model_kwargs=settings["model_kwargs"],
                                 fit_kwargs=_seed_fit_kwargs(args, out, settings["fit_kwargs"],
                                                             seed), device=device)
            row, curves[str(seed)] = run.metrics, run.curves
        results.append(row)
        scores = (f"10-fold SVM accuracy {100 * row['accuracy']:.2f} "
                  f"± {100 * row['accuracy_std']:.2f}  " if labels is not None else "")
        print(f"  seed {seed}: {scores}({row['epochs']} epochs, "
              f"{row['train_seconds']:.1f} s)"
              + (" (finished before the resume)" if run is None else ""))
        # No validation split here: the saved embeddings are the first seed's, whatever their
        # accuracy (choosing by cross-validated accuracy would select on the test folds).
        if first is None:
            first = (row, run)
        if run is not None and seed != config["seeds"][-1]:     # the last: as for nodes
            progress.record_seed(seed, row, curves[str(seed)],
                                 outputs=(run.embeddings, run.state_dict)
                                 if first[1] is run else None)
    summary = summarise(results, ("accuracy", "train_seconds") if labels is not None
                        else ("train_seconds",))
    print(_summary_table(summary))
    assert first is not None
    best = _seed_run(*first, progress)

    def write(folder: Path) -> None:
        _write_outputs(folder, best, results, summary, config, curves=curves)
        if args.plots:
            _write_plots(folder, curves, best.embeddings, labels, config)

    out = _write_output_set(args, out, config, write)
    print(f"wrote {out / 'embeddings.pt'} (graph embeddings, seed "
          f"{config['embeddings_seed']}), {_other_files(out)}")


def _graph_labels(graphs: Any) -> torch.Tensor:
    """One label per graph of a collection, in its order."""
    import torch

    if getattr(graphs, "y", None) is not None:
        return graphs.y
    return torch.cat([graph.y for graph in graphs])


def evaluate(args: argparse.Namespace) -> int:
    """``graphinfo evaluate EMBEDDINGS|RUN``: scores saved embeddings with the protocol of the
    dataset's level (node datasets: the linear probe and k-means; graph datasets: the 10-fold
    SVM). Given a run folder, its embeddings, dataset, data root and seed are the defaults, so
    the figures are the run's."""
    import torch

    from graphinfo.data.cache_entry import safe_torch_load
    from graphinfo.evaluation import clustering, svm_cross_validation
    from graphinfo.evaluation import evaluate as run_protocol
    from graphinfo.io import save_json
    from graphinfo.runs import EMBEDDINGS_FILE, read_config

    path = Path(args.embeddings)
    config: dict[str, Any] = {}
    if path.is_dir():
        config = read_config(path)
        path = path / EMBEDDINGS_FILE
    name, root, features, labels = _run_data(args, config)
    if name is None:
        raise SystemExit("error: give --dataset (whose labels to score against) or a run "
                         "folder instead of an embeddings file")
    seed = args.seed if args.seed is not None else config.get("embeddings_seed", 0)
    if not path.is_file():
        raise SystemExit(f"error: embeddings file {str(path)!r} does not exist")
    z = safe_torch_load(path)      # a corrupt or code-running file: one line, before the data
    dataset = _load_data(name, root, features, labels, _run_metapaths(args, config))
    graph_level = dataset.task == "graph"
    if not dataset.num_classes:
        raise ValueError(f"{dataset.name} has no labels to score the embeddings "
                         f"against (a graph file takes them from --labels FILE)")
    if graph_level:
        rows, unit = len(dataset.dataset), "graph"
    elif dataset.data is None or dataset.split is None:
        raise SystemExit(f"error: dataset {name!r} has no node split to evaluate on")
    else:
        rows, unit = dataset.labels.size(0), "node"
    if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.size(0) != rows:
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise SystemExit(f"error: {str(path)!r} must hold a tensor of shape [{rows}, F] for "
                         f"{dataset.name} (one row per {unit}), got {shape}")
    evaluation: dict[str, Any] = {}
    if graph_level:
        result = svm_cross_validation(z, _graph_labels(dataset.dataset), seed=seed)
        metrics: dict[str, Any] = {"accuracy": result["accuracy"],
                                   "accuracy_std": result["std"]}
    else:
        probe, probe_kwargs = dataset.probe_protocol()
        metrics = run_protocol(z, dataset.labels, dataset.split, protocol=probe,
                               **probe_kwargs)
        evaluation = _evaluation_note(probe, probe_kwargs)
        if probe == "linear_probe":
            metrics.update(clustering(z, dataset.labels, seed=seed))
    table = [["metric", "value"]] + [[k, v if isinstance(v, str) else f"{v:.4f}"]
                                     for k, v in metrics.items()]
    print(_table(table))
    if graph_level:
        print(f"10-fold SVM accuracy (folds seeded with {seed}, C chosen inside the training "
              f"folds)")
    if evaluation:
        print(f"scored by ogb.nodeproppred.Evaluator({evaluation['evaluator']!r}), linear probe "
              f"with C chosen on the valid split")
    if args.out:
        extra = {"evaluation": evaluation} if evaluation else {}
        save_json({"embeddings": str(path), "dataset": dataset.name, "seed": seed, **metrics,
                   **extra}, args.out)
    return 0


def embed(args: argparse.Namespace) -> int:
    """``graphinfo embed RUN_DIR``: the run's model embeds a dataset (by default the one it
    trained on, from the root it recorded) and the embeddings are written atomically."""
    import torch

    from graphinfo.io import save_torch
    from graphinfo.runs import EMBEDDINGS_FILE, load_run, read_config

    device = _check_device(args.device)
    run_dir = Path(args.run)
    config = read_config(run_dir)
    if ":" in config["model"]:
        _importable_from_here()
    name, root, features, labels = _run_data(args, config)
    if name is None:
        raise ValueError(f"{run_dir / 'config.json'} names no dataset: give --dataset")
    dataset = _load_data(name, root, features, labels, _run_metapaths(args, config))
    sizing = None
    if config.get("in_channels") is None and dataset.task == "node":
        # a model sized by the data's types (a heterogeneous one): rebuilt for the same view
        from graphinfo.models import model_class
        from graphinfo.models.multiplex import dataset_for

        sizing = dataset_for(model_class(config["model"]), dataset, config.get("relation")).data
    run = load_run(run_dir, data=sizing, device=device)
    z = run.embed(dataset)
    out = Path(args.out) if args.out else run_dir / f"embeddings-{dataset.name}.pt"
    save_torch(z, out)
    what = "graph" if run.level == "graph" else "node"
    text = f"wrote {out}: {z.size(0)} {what} embeddings of size {z.size(1)}"
    saved = run_dir / EMBEDDINGS_FILE
    reference = _dataset_reference(name, features, labels).get("dataset", dataset.name)
    if reference == config.get("dataset") and saved.is_file():
        same = torch.equal(z, run.saved_embeddings())
        text += (f" ({'equal to' if same else 'NOT equal to'} the run's {EMBEDDINGS_FILE})")
    print(text)
    return 0


def _run_metapaths(args: argparse.Namespace, config: dict[str, Any]) -> str | None:
    """The metapaths ``embed`` and ``evaluate`` load a heterogeneous dataset with: the
    command line's, else the run's (when they load the run's own dataset)."""
    if args.metapaths is not None:
        return args.metapaths
    if args.dataset is None:
        return (config.get("flags") or {}).get("metapaths")
    return None


def _run_data(args: argparse.Namespace,
              config: dict[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    """The dataset, root, features and labels files ``embed`` and ``evaluate`` load: the
    command line's, else the run's (a run's graph file with its own features and labels)."""
    root = args.root if args.root is not None else config.get("root")
    if args.dataset is not None:
        return args.dataset, root, args.features, args.labels
    return (config.get("dataset"), root, args.features or config.get("features"),
            args.labels or config.get("labels"))


def report(args: argparse.Namespace) -> int:
    """``graphinfo report RUN``: prints a saved run's settings, per-seed scores and table again,
    from its ``config.json`` and ``metrics.json`` (nothing is recomputed)."""
    from graphinfo.runs import read_config, read_metrics

    config = read_config(args.run)
    metrics = read_metrics(args.run)
    settings = ", ".join(f"{key} {config[key]}" for key in
                         ("hidden_channels", "num_layers", "encoder", "estimator", "epochs",
                          "lr") if config.get(key) is not None)
    print(f"{config['model']} on {config.get('dataset')}: {settings}; graphinfo "
          f"{config.get('graphinfo')}, torch {config.get('torch')}")
    for row in metrics.get("per_seed", []):
        scores = "  ".join(f"{key} {100 * row[key]:.2f}" for key in
                           ("test_acc", "valid_acc", "test_rocauc", "valid_rocauc",
                            "test_macro_f1", "test_micro_f1", "valid_macro_f1", "accuracy",
                            "untrained_test_acc", "untrained_test_rocauc",
                            "untrained_test_macro_f1")
                           if key in row)
        print(f"  seed {row.get('seed')}: {scores}  ({row.get('epochs')} epochs, "
              f"{row.get('train_seconds', 0.0):.1f} s)")
    print(_summary_table(metrics.get("summary", {})))
    print(f"embeddings.pt: seed {metrics.get('embeddings_seed')}")
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


def _models_text() -> str:
    """The built-in models' names (from :mod:`graphinfo.catalog`: no torch import for
    ``--help``)."""
    return " | ".join(BUILTIN_MODELS)


def _fanout(text: str) -> int:
    value = int(text)
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, or -1 for all "
                                         f"neighbours, got {value}")
    return value


#: Seeds are numpy / scikit-learn random states: 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed in 0..{MAX_SEED}, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _hetero_flags(parser: argparse.ArgumentParser, relation: bool = True) -> None:
    parser.add_argument("--metapaths", default=None, metavar="NAMES",
                        help="with a heterogeneous dataset: the metapath relations, comma-"
                             "separated node-type initials (e.g. MAM,MDM); the dataset's own "
                             "when it ships them, else built from its typed relations "
                             "(default: the dataset's)")
    if relation:
        parser.add_argument("--relation", default=None, metavar="NAME",
                            help="with a heterogeneous dataset and a model that reads one "
                                 "graph: the relation it reads, e.g. PAP (default: "
                                 "the first metapath; ogbn-mag: cites)")


def _graph_file_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", default=None, metavar="FILE",
                        help="with a graph file as --dataset: node features, a .npy array or "
                             "a .pt tensor (a row per node) or text lines 'NODE_ID F1 F2 ...'")
    parser.add_argument("--labels", default=None, metavar="FILE",
                        help="with a graph file as --dataset: node labels, a .npy / .pt vector "
                             "or text lines 'NODE_ID LABEL' (without labels nothing is "
                             "evaluated)")


def build_parser(replay: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    """The parser of ``graphinfo``; ``replay`` holds defaults for ``pretrain``'s flags (from
    ``--config``)."""
    parser = _Parser(prog="graphinfo", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"graphinfo {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    debug_help = "show the traceback of an error (default: the error in one line)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    # --debug after the command too; SUPPRESS keeps the value given before the command.
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pretrain", parents=[common],
                       help="train a model per seed, probe it, write embeddings")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"a registered model ({_models_text()}) or your own, as "
                        f"package.module:ClassName or path/to/file.py:ClassName (a "
                        f"graphinfo.models.MIModel subclass) "
                        f"(default: {DEFAULT_MODEL})")
    p.add_argument("--dataset", default=DEFAULT_DATASET,
                   help=f"dataset name, see `graphinfo datasets`, or a graph file of your own: "
                        f"a torch.save'd PyG Data (.pt), an edge list, GraphML or GML "
                        f"(default: {DEFAULT_DATASET})")
    p.add_argument("--root", default=None, help="data folder (default: $GRAPHINFO_DATA or cache)")
    _graph_file_flags(p)
    _hetero_flags(p)
    p.add_argument("--seeds", type=_positive_int, default=1, help="number of seeds (default: 1)")
    p.add_argument("--seed", type=_seed, default=0, help="first seed (default: 0)")
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help="maximum epochs (default: the model's)")
    p.add_argument("--patience", type=_positive_int, default=None,
                   help="early-stopping patience on the loss, node-level models (default: "
                        "the model's)")
    p.add_argument("--hidden", type=_positive_int, default=None,
                   help="embedding (or per-layer) size (default: the model's)")
    p.add_argument("--layers", type=_positive_int, default=None,
                   help="encoder layers (default: the model's)")
    p.add_argument("--encoder", default=None,
                   help="gcn | sage | gin | gat (default: the model's)")
    p.add_argument("--batch-size", type=_positive_int, default=None,
                   help="graph-level models: graphs per batch (default: the model's); "
                        "node-level models: "
                        "train on neighbour-sampled mini-batches of this many seed nodes per "
                        "process (default: full-batch)")
    p.add_argument("--num-neighbors", type=_fanout, nargs="+", default=None,
                   metavar="K", help="with --batch-size: neighbours sampled per node, one count "
                                     "per encoder layer, -1 for all (default: 10 per layer)")
    p.add_argument("--summary", choices=("batch", "ema"), default=None,
                   help="with --batch-size: the summary the seeds are scored against, each "
                        "batch's own or a moving average (default: batch)")
    p.add_argument("--nproc", type=_positive_int, default=1,
                   help="train on this many processes of this machine with "
                        "DistributedDataParallel (gloo on CPU, nccl on CUDA); needs "
                        "--batch-size. Under torchrun leave it at 1: the environment sets the "
                        "processes (default: 1)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="any other argument of the model's constructor, repeatable, e.g. "
                        "--option negatives=2 (values are Python literals)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate (default: the model's)")
    p.add_argument("--weight-decay", type=float, default=None,
                   help="Adam weight decay (default: the model's own, its "
                        "ModelDefaults.weight_decay)")
    p.add_argument("--max-grad-norm", type=_positive_float, default=None,
                   help="clip the gradients' total 2-norm before every step (default: the "
                        "model's own, its ModelDefaults.max_grad_norm; most do not clip)")
    p.add_argument("--estimator", default=None,
                   help="jsd | dv | nwj | infonce | mine (default: the model's)")
    p.add_argument("--feature-norm", choices=("auto", "row", "none"), default="auto",
                   help="row-normalise features; auto: only when all are non-negative")
    p.add_argument("--device", default="cpu", help="cpu | cuda (default: cpu)")
    p.add_argument("--out", default=None, help="output folder (default: runs/MODEL-DATASET)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (default: refuse, before training)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run that was killed while writing --out, from its "
                        "checkpoint (its finished seeds are kept; with --out alone its "
                        "flags are taken over)")
    p.add_argument("--checkpoint-every", type=_non_negative_int, default=10, metavar="EPOCHS",
                   help="epochs between the checkpoints that --resume continues from; 0: "
                        "none (a resume trains the interrupted seed again) (default: 10)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: only on a terminal)")
    p.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True,
                   help="probe the untrained encoder (the same initial weights) and the raw "
                        "features too, and print them beside the trained encoder (default: "
                        "on)")
    p.add_argument("--plots", action=argparse.BooleanOptionalAction, default=True,
                   help="write loss.png and embedding.png (t-SNE, or UMAP if installed) "
                        "into the output folder; needs matplotlib (default: on)")
    p.add_argument("--config", default=None, metavar="RUN",
                   help="replay a run: its folder or config.json; its flags are the defaults, "
                        "flags given here win (default --out: the run's folder + '-replay')")
    p.set_defaults(func=pretrain, **(replay or {}))

    e = sub.add_parser("evaluate", parents=[common],
                       help="score saved embeddings: linear probe and k-means "
                                        "(OGB datasets: the probe scored by OGB's Evaluator), "
                                        "10-fold SVM for graph datasets")
    e.add_argument("embeddings", help="a .pt file holding an [N, F] tensor, or a run folder "
                                      "(its embeddings, dataset, root and seed)")
    e.add_argument("--dataset", default=None,
                   help="dataset whose labels and split to use (default: the run's)")
    e.add_argument("--root", default=None, help="data folder (default: the run's)")
    _graph_file_flags(e)
    _hetero_flags(e, relation=False)
    e.add_argument("--seed", type=_seed, default=None,
                   help="seed of k-means and of the SVM's folds (default: the run's "
                        "embeddings seed, else 0)")
    e.add_argument("--out", default=None, help="write the metrics to this JSON file")
    e.set_defaults(func=evaluate)

    m = sub.add_parser("embed", parents=[common],
                       help="embed a dataset with the model of a saved run")
    m.add_argument("run", help="a run folder written by pretrain (its --out)")
    m.add_argument("--dataset", default=None,
                   help="dataset to embed (default: the one the run trained on)")
    m.add_argument("--root", default=None,
                   help="data folder (default: the one the run recorded)")
    _graph_file_flags(m)
    _hetero_flags(m, relation=False)
    m.add_argument("--out", default=None,
                   help="output file (default: RUN/embeddings-DATASET.pt)")
    m.add_argument("--device", default="cpu", help="cpu | cuda (default: cpu)")
    m.set_defaults(func=embed)

    r = sub.add_parser("report", parents=[common],
                       help="print a saved run's settings and table again")
    r.add_argument("run", help="a run folder written by pretrain")
    r.set_defaults(func=report)

    d = sub.add_parser("datasets", parents=[common],
                       help="list known datasets and where they are looked for")
    d.add_argument("--root", default=None, help="data folder (default: $GRAPHINFO_DATA or cache)")
    d.add_argument("--paths", action="store_true", help="list every folder searched")
    d.set_defaults(func=datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv)      # --help answers here, before torch is imported
    except (ValueError, FileNotFoundError) as error:      # a --config that cannot be read
        print(f"error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from graphinfo import distributed

    try:
        if args.func is pretrain and (args.nproc > 1 or distributed.launched_by_torchrun()):
            return _pretrain_distributed(args, argv)
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, PermissionError, FloatingPointError,
            ChildProcessError) as error:
        return _fail(f"error: {error}", args.debug)
    except OSError as error:    # a full disk, an unreadable file ...: the OS's reason, the file
        where = f" ({error.filename})" if error.filename else ""
        return _fail(f"error: {error.strerror or error}{where}", args.debug)
    except (MemoryError, RuntimeError) as error:
        if not isinstance(error, MemoryError) and not _out_of_memory(error):
            raise
        return _fail(f"error: out of memory: {_first_line(error) or type(error).__name__} "
                     f"(try a smaller --hidden, --batch-size or dataset)", args.debug)
    except SystemExit as stop:   # the commands' own one-line errors: exit code 2 as the rest
        if isinstance(stop.code, str) and stop.code.startswith("error: "):
            return _fail(stop.code, args.debug)
        raise


def _fail(message: str, debug: bool) -> int:
    """Prints an expected failure as one line: the message's first (a few messages go on with
    details, such as every folder searched for a dataset, shown with ``--debug`` after the
    traceback). The exit code of every such failure is 2."""
    first, _, details = message.partition("\n")
    if debug:
        import traceback

        traceback.print_exc()
        if details:
            print(details, file=sys.stderr)
    print(first, file=sys.stderr)
    return 2


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (``error: ...``, exit code 2) instead of the
    usage text and the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def _out_of_memory(error: RuntimeError) -> bool:
    """Whether ``error`` is torch's report of a failed allocation (CPU or CUDA)."""
    import torch

    return isinstance(error, torch.OutOfMemoryError) or \
        "can't allocate memory" in str(error) or "out of memory" in str(error).lower()


def _pretrain_distributed(args: argparse.Namespace, argv: list[str]) -> int:
    """``pretrain`` on several processes: under ``torchrun`` this process is one of them;
    with ``--nproc N`` it starts ``N`` processes on this machine and waits for them."""
    from graphinfo import distributed
    from graphinfo.data import is_graph_file
    from graphinfo.data.loaders import resolve_name
    from graphinfo.models import model_class

    # Checked here, before any process starts, for a plain error message.
    if ":" in args.model:
        _importable_from_here()
    model = model_class(args.model)
    if not is_graph_file(args.dataset):
        resolve_name(args.dataset)
    if model.level == "graph":
        raise ValueError(f"training on several processes covers node-level models; "
                         f"{args.model!r} is graph-level: run it on one process")
    if args.batch_size is None:
        raise ValueError("training on several processes samples mini-batches: add "
                         "--batch-size (seed nodes per batch and process)")
    if distributed.launched_by_torchrun():
        if args.nproc > 1:
            raise ValueError("--nproc starts processes itself; under torchrun leave it out "
                             "(torchrun's --nproc-per-node sets the processes)")
        return _pretrain_process(argv)
    from torch.multiprocessing.spawn import ProcessException

    try:
        distributed.launch(args.nproc, _pretrain_process, argv)
    except ProcessException as error:
        # The failing process's traceback is in the message; its last line is the error.
        lines = [line for line in str(error).strip().splitlines() if line.strip()]
        raise ChildProcessError(f"a training process failed ({lines[-1] if lines else error}); "
                                f"each process's own error is printed above") from error
    return 0


def _pretrain_process(argv: list[str]) -> int:
    """One process of a distributed ``pretrain``: joins the process group (gloo on CPU, nccl
    on CUDA, one GPU per process), runs ``pretrain`` (only rank 0 prints and writes) and
    leaves the group."""
    from graphinfo import distributed

    args = parse_args(argv)
    args.nproc = 1
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    device = distributed.init_from_env(_check_device(args.device))
    args.device = str(device)
    stdout = sys.stdout
    if not distributed.is_main_process():
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - closed below
    try:
        return pretrain(args)
    except BaseException as error:
        # Every process says what stopped it: the others then fail waiting for this one.
        print(f"error in process {distributed.rank()}: {type(error).__name__}: {error}",
              file=sys.stderr, flush=True)
        raise
    finally:
        if sys.stdout is not stdout:
            sys.stdout.close()
            sys.stdout = stdout
        distributed.destroy()


if __name__ == "__main__":
    sys.exit(main())
