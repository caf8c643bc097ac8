import json
import os
import subprocess
import sys

import pytest
import torch

from graphinfo.cli import main

#: pretrain without the plots (their own test draws them).
PRETRAIN = ["pretrain", "--no-plots"]
FAST = ["--hidden", "16", "--epochs", "20", "--patience", "5"]


def test_pretrain_writes_embeddings_metrics_and_config(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*PRETRAIN, "--dataset", "planted", "--seeds", "2", "--out", str(out), *FAST]) \
        == 0
    printed = capsys.readouterr().out
    assert "test accuracy (%)" in printed and "mean ± std over 2 seed(s)" in printed
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "embeddings.pt",
                                                     "metrics.json", "model.pt"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert [row["seed"] for row in metrics["per_seed"]] == [0, 1]
    best = max(metrics["per_seed"], key=lambda row: row["valid_acc"])
    assert metrics["embeddings_seed"] == best["seed"]
    assert 0.0 <= metrics["summary"]["test_acc"]["mean"] <= 1.0
    config = json.loads((out / "config.json").read_text())
    assert config["hidden_channels"] == 16 and config["estimator"] == "jsd"
    z = torch.load(out / "embeddings.pt")
    assert z.shape == (2000, 16)

    assert main(["evaluate", str(out / "embeddings.pt"), "--dataset", "planted",
                 "--out", str(tmp_path / "eval.json")]) == 0
    evaluated = json.loads((tmp_path / "eval.json").read_text())
    assert evaluated["test_acc"] == pytest.approx(best["test_acc"])


def test_datasets_lists_the_default_and_real_datasets(capsys, data_root):
    assert main(["datasets", "--root", str(data_root), "--paths"]) == 0
    printed = capsys.readouterr().out
    for name in ("planted", "cora", "citeseer", "mutag", "ogbn-arxiv"):
        assert name in printed.lower()
    cora_line = next(line for line in printed.splitlines() if line.startswith("cora "))
    assert str(data_root / "planetoid" / "Cora" / "raw") in cora_line
    pubmed_line = next(line for line in printed.splitlines() if line.startswith("pubmed "))
    assert str(data_root / "planetoid" / "PubMed" / "raw") in pubmed_line
    arxiv_line = next(line for line in printed.splitlines() if line.startswith("ogbn-arxiv "))
    assert "not found" in arxiv_line
    assert f"data root: {data_root}" in printed


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    assert main([*PRETRAIN, "--dataset", "no-such-graph", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Unknown dataset 'no-such-graph'" in err
    assert "Traceback" not in err
    assert main([*PRETRAIN, "--estimator", "nwj", "--lr", "10000", "--out", str(tmp_path),
                 *FAST]) == 2
    assert "The loss became" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*PRETRAIN, "--seeds", "0"])
    assert "expected an integer >= 1, got 0" in capsys.readouterr().err
    assert main([*PRETRAIN, "--estimator", "kl", "--out", str(tmp_path), *FAST]) == 2
    assert "Unknown estimator 'kl'" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.pt"), "--dataset", "planted"]) == 2
    assert "does not exist" in capsys.readouterr().err
    torch.save(torch.zeros(5, 3), tmp_path / "wrong.pt")
    assert main(["evaluate", str(tmp_path / "wrong.pt"), "--dataset", "planted"]) == 2
    assert "must hold a tensor of shape [2000, F]" in capsys.readouterr().err


def test_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "graphinfo", "--version"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("graphinfo ")


def test_pretrain_gmi_with_a_model_option(tmp_path, capsys):
    out = tmp_path / "gmi"
    assert main([*PRETRAIN, "--model", "gmi", "--dataset", "planted", "--out", str(out),
                 "--option", "variant=adaptive", "--option", "negatives=2", *FAST]) == 0
    assert "GMI on planted" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["options"] == {"variant": "adaptive", "negatives": 2}
    state = torch.load(out / "model.pt")
    assert state["discriminator.weight"].shape == (16, 1000)   # embeddings x input features
    assert torch.load(out / "embeddings.pt").shape == (2000, 16)
    assert main([*PRETRAIN, "--model", "gmi", "--option", "variant", "--out",
                 str(tmp_path), *FAST]) == 2
    assert "--option must look like KEY=VALUE" in capsys.readouterr().err
    assert main([*PRETRAIN, "--model", "gmi", "--option", "hidden_channels=8", "--out",
                 str(tmp_path), *FAST]) == 2
    assert "duplicates a flag: use --hidden" in capsys.readouterr().err


def test_pretrain_infograph_on_a_tu_dataset(tmp_path, capsys, data_root):
    out = tmp_path / "infograph"
    assert main([*PRETRAIN, "--model", "infograph", "--dataset", "mutag", "--root",
                 str(data_root), "--epochs", "2", "--hidden", "8", "--layers", "2",
                 "--seeds", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "INFOGRAPH on mutag: 188 graphs" in printed and "10-fold SVM accuracy" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert [row["seed"] for row in metrics["per_seed"]] == [0, 1]
    assert all(0.5 < row["accuracy"] <= 1.0 for row in metrics["per_seed"])
    assert torch.load(out / "embeddings.pt").shape == (188, 16)   # 2 layers x 8 units
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == 2 and config["batch_size"] == 128
    assert config["hidden_channels"] == 8 and config["num_layers"] == 2
    assert config["encoder"] == "gin" and "patience" not in config   # a fixed budget
    # Each kind of model refuses the other kind of dataset.
    capsys.readouterr()
    assert main([*PRETRAIN, "--model", "infograph", "--dataset", "planted", "--out",
                 str(tmp_path)]) == 2
    assert "learns graph embeddings" in capsys.readouterr().err
    assert main([*PRETRAIN, "--model", "gmi", "--dataset", "mutag", "--root", str(data_root),
                 "--out", str(tmp_path)]) == 2
    assert "learns node embeddings" in capsys.readouterr().err
    assert main([*PRETRAIN, "--model", "infograf", "--out", str(tmp_path)]) == 2
    assert "Unknown model 'infograf'" in capsys.readouterr().err


def test_pretrain_and_evaluate_an_ogb_dataset_offline_with_the_ogb_evaluator(tmp_path, capsys,
                                                                             evaluator_calls):
    from ogb.nodeproppred import Evaluator
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from graphinfo.data import load_dataset
    from tests.data.ogb_layout import write_tiny_arxiv

    root = tmp_path / "ogb"
    write_tiny_arxiv(root)   # 60 nodes in OGB's on-disk layout, split 30/15/15
    scores = evaluator_calls
    out = tmp_path / "run"
    assert main([*PRETRAIN, "--model", "dgi", "--dataset", "ogbn-arxiv", "--root", str(root),
                 "--epochs", "3", "--hidden", "16", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "DGI on ogbn-arxiv: 60 nodes" in printed
    assert "scored by ogb.nodeproppred.Evaluator('ogbn-arxiv'): acc" in printed
    assert "test accuracy (%)" in printed and "k-means" not in printed
    metrics = json.loads((out / "metrics.json").read_text())
    evaluation = {"protocol": "ogb", "evaluator": "ogbn-arxiv", "metric": "acc"}
    assert metrics["evaluation"] == evaluation
    assert json.loads((out / "config.json").read_text())["evaluation"] == evaluation
    row = metrics["per_seed"][0]
    assert row["metric"] == "acc" and "nmi" not in row
    # The reported test metric is what the Evaluator returned, on the 15 test nodes, once.
    assert [size for name, size, _ in scores if name == "ogbn-arxiv"][-1] == 15
    assert scores[-1][2]["acc"] == row["test_acc"]
    assert metrics["summary"]["test_acc"]["mean"] == row["test_acc"]

    # Recomputed from the saved embeddings: the same probe at the chosen C, a direct call.
    loaded = load_dataset("ogbn-arxiv", root=root)
    z = torch.load(out / "embeddings.pt")
    assert z.shape == (60, 16)
    y, split = loaded.data.y.numpy(), {k: v.numpy() for k, v in loaded.split.items()}
    zs = StandardScaler().fit(z[split["train"]].numpy()).transform(z.numpy())
    clf = LogisticRegression(C=row["C"], max_iter=2000).fit(zs[split["train"]],
                                                            y[split["train"]])
    for key in ("valid", "test"):
        idx = split[key]
        expected = Evaluator("ogbn-arxiv").eval({"y_true": y[idx].reshape(-1, 1),
                                                 "y_pred": clf.predict(zs[idx]).reshape(-1, 1)})
        assert row[f"{key}_acc"] == pytest.approx(expected["acc"], abs=1e-12)

    # `evaluate` on the OGB dataset scores the same embeddings the same way.
    assert main(["evaluate", str(out / "embeddings.pt"), "--dataset", "ogbn-arxiv", "--root",
                 str(root), "--out", str(tmp_path / "eval.json")]) == 0
    printed = capsys.readouterr().out
    assert "Evaluator('ogbn-arxiv')" in printed and "nmi" not in printed
    evaluated = json.loads((tmp_path / "eval.json").read_text())
    assert evaluated["evaluation"] == evaluation and evaluated["metric"] == "acc"
    assert evaluated["test_acc"] == pytest.approx(row["test_acc"])
    assert evaluated["C"] == row["C"]


def test_pretrain_on_mini_batches_records_the_settings(tmp_path, capsys):
    out = tmp_path / "mb"
    assert main([*PRETRAIN, "--dataset", "planted", "--batch-size", "256", "--num-neighbors",
                 "5", "--summary", "ema", "--out", str(out), *FAST, "--epochs", "6"]) == 0
    printed = capsys.readouterr().out
    assert "mini-batches of 256 seed nodes (neighbours [5], ema summary)" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["minibatch"] == {"batch_size": 256, "num_neighbors": [5], "summary": "ema"}
    assert config["processes"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["per_seed"][0]["test_acc"] > 0.4      # 5 classes: chance is 0.2
    assert torch.load(out / "embeddings.pt").shape == (2000, 16)


def test_mini_batch_flags_are_checked(tmp_path, capsys):
    assert main([*PRETRAIN, "--dataset", "planted", "--num-neighbors", "5", "--out",
                 str(tmp_path), *FAST]) == 2
    assert "--num-neighbors and --summary set mini-batch training: add --batch-size" in \
        capsys.readouterr().err
    assert main([*PRETRAIN, "--dataset", "planted", "--nproc", "2", "--out",
                 str(tmp_path), *FAST]) == 2
    assert "training on several processes samples mini-batches: add --batch-size" in \
        capsys.readouterr().err
    assert main([*PRETRAIN, "--model", "infograph", "--dataset", "planted", "--nproc", "2",
                 "--batch-size", "8", "--out", str(tmp_path)]) == 2
    assert "'infograph' is graph-level: run it on one process" in capsys.readouterr().err


def test_pretrain_on_two_processes_writes_once(tmp_path):
    out = tmp_path / "ddp"
    result = subprocess.run(
        [sys.executable, "-m", "graphinfo", "pretrain", "--dataset", "planted", "--nproc", "2",
         "--batch-size", "128", "--out", str(out), *FAST, "--epochs", "8", "--no-plots"],
        capture_output=True, text=True, timeout=300, env={**os.environ,
                                                          "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("seed 0: test") == 1          # only rank 0 prints
    assert "on 2 processes" in result.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["processes"] == 2 and config["minibatch"]["batch_size"] == 128
    assert json.loads((out / "metrics.json").read_text())["per_seed"][0]["test_acc"] > 0.5
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "embeddings.pt",
                                                     "metrics.json", "model.pt"]


def test_ogb_layout_dataset_trains_on_mini_batches_through_the_cli(tmp_path, capsys):
    from tests.data.ogb_layout import write_tiny_arxiv

    root = tmp_path / "ogb"
    write_tiny_arxiv(root)
    out = tmp_path / "run"
    assert main([*PRETRAIN, "--dataset", "ogbn-arxiv", "--root", str(root), "--epochs", "3",
                 "--hidden", "16", "--batch-size", "16", "--num-neighbors", "4", "--out",
                 str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mini-batches of 16 seed nodes" in printed
    assert "scored by ogb.nodeproppred.Evaluator('ogbn-arxiv'): acc" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluation"]["protocol"] == "ogb"
    assert 0.0 <= metrics["per_seed"][0]["test_acc"] <= 1.0
    assert torch.load(out / "embeddings.pt").shape == (60, 16)


def test_num_neighbors_takes_positive_counts_or_minus_one(capsys):
    from graphinfo.cli import build_parser

    parser = build_parser()
    assert parser.parse_args([*PRETRAIN, "--num-neighbors", "-1", "5"]).num_neighbors == [-1, 5]
    with pytest.raises(SystemExit):
        parser.parse_args([*PRETRAIN, "--num-neighbors", "-2"])
    assert "expected an integer >= 1, or -1 for all neighbours, got -2" in capsys.readouterr().err


def test_errors_of_a_multi_process_run_are_reported_like_any_other(tmp_path, capfd):
    # Caught before any process starts.
    assert main([*PRETRAIN, "--dataset", "no-such-graph", "--nproc", "2", "--batch-size", "8",
                 "--out", str(tmp_path)]) == 2
    assert "error: Unknown dataset 'no-such-graph'" in capfd.readouterr().err
    # Raised inside the processes: each says what stopped it, then the launcher reports.
    assert main([*PRETRAIN, "--dataset", "planted", "--nproc", "2", "--batch-size", "8",
                 "--num-neighbors", "5", "5", "--out", str(tmp_path)]) == 2
    err = capfd.readouterr().err
    assert "error in process 0: ValueError: 'num_neighbors' must give one count per encoder " \
           "layer" in err
    assert "error: a training process failed" in err


def test_wrong_names_and_devices_fail_before_any_data_loads(tmp_path, capsys):
    # The data folder does not exist: a setting checked first fails with its own message.
    missing = ["--dataset", "cora", "--root", str(tmp_path / "no-data"), "--out",
               str(tmp_path / "run")]
    assert main([*PRETRAIN, *missing, "--estimator", "foo"]) == 2
    assert "Unknown estimator 'foo'; expected one of: 'jsd'" in capsys.readouterr().err
    assert main([*PRETRAIN, *missing, "--encoder", "foo"]) == 2
    assert "Unknown encoder 'foo'; expected one of: 'gcn'" in capsys.readouterr().err
    assert main([*PRETRAIN, *missing, "--option", "corruption='foo'"]) == 2
    assert "Unknown corruption 'foo'" in capsys.readouterr().err
    for device, message in (("gpu", "unknown device 'gpu'; use cpu, cuda or cuda:N"),
                            ("mps", "graphinfo runs on cpu, cuda or cuda:N")):
        assert main([*PRETRAIN, *missing, "--device", device]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_given_root_is_never_downloaded_into(tmp_path, capsys):
    # Missing files under a given root are an error at once; no download is tried.
    assert main([*PRETRAIN, "--dataset", "cora", "--root", str(tmp_path), "--out",
                 str(tmp_path / "run")]) == 2
    assert "downloading is disabled" in capsys.readouterr().err


def _sbm_files(folder):
    """A 3-block graph as a user might bring it: an edge list with text IDs and a labels file."""
    generator = torch.Generator().manual_seed(0)
    blocks = torch.arange(90) // 30
    pairs = torch.randint(90, (2, 900), generator=generator)
    keep = (blocks[pairs[0]] == blocks[pairs[1]]) | (torch.rand(900, generator=generator) < .1)
    edges = folder / "graph.edges"
    edges.write_text("# source target\n" + "".join(f"n{u} n{v}\n" for u, v in
                                                   pairs[:, keep].t().tolist() if u != v))
    labels = folder / "labels.txt"
    labels.write_text("".join(f"n{i} block{b}\n" for i, b in enumerate(blocks.tolist())))
    return edges, labels


def test_an_unlabelled_graph_file_trains_and_embeds_without_evaluation(tmp_path, capsys):
    edges, labels = _sbm_files(tmp_path)
    out = tmp_path / "run"
    assert main([*PRETRAIN, "--dataset", str(edges), "--out", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "DGI on graph: 90 nodes" in printed and "no labels;" in printed
    assert "no node labels: the embeddings are trained and written but not evaluated" in printed
    assert "test accuracy" not in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["summary"]) == {"train_seconds"}
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == str(edges) and config["labels"] is None
    assert main(["embed", str(out)]) == 0
    assert "(equal to the run's embeddings.pt)" in capsys.readouterr().out
    assert main(["evaluate", str(out)]) == 2
    assert "has no labels to score the embeddings against" in capsys.readouterr().err
    assert main([*PRETRAIN, "--dataset", "planted", "--labels", str(labels), *FAST]) == 2
    assert "--features and --labels go with a graph file" in capsys.readouterr().err


def test_a_labelled_graph_file_is_evaluated_replayed_and_scored_again(tmp_path, capsys,
                                                                      monkeypatch):
    edges, labels = _sbm_files(tmp_path)
    out = tmp_path / "run"
    assert main([*PRETRAIN, "--dataset", str(edges), "--labels", str(labels), "--out",
                 str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "DGI on graph: 90 nodes" in printed and "3 classes" in printed
    assert "untrained encoder: test accuracy (%)" in printed
    assert "raw features: test accuracy (%)" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    # Replayed from another folder: the recorded absolute paths find the files.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["pretrain", "--config", str(out)]) == 0
    replay = json.loads((tmp_path / "run-replay" / "metrics.json").read_text())
    assert replay["per_seed"][0]["test_acc"] == metrics["per_seed"][0]["test_acc"]
    capsys.readouterr()
    assert main(["evaluate", str(out), "--out", str(tmp_path / "scores.json")]) == 0
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["test_acc"] == pytest.approx(metrics["per_seed"][0]["test_acc"])


def test_the_default_pretrain_shows_learning(tmp_path, capsys):
    """The quick start's job: on the built-in graph the trained encoder beats an untrained one
    (same initial weights) and the raw features by at least 10 points, through one probe."""
    out = tmp_path / "run"
    assert main(["pretrain", "--no-plots", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "untrained encoder: test accuracy (%)" in printed
    assert "raw features: test accuracy (%)" in printed and "training gained +" in printed
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    trained = summary["test_acc"]["mean"]
    assert trained - summary["untrained_test_acc"]["mean"] >= 0.10
    assert trained - summary["raw_test_acc"]["mean"] >= 0.10


def test_multiplex_models_and_single_relation_models_on_a_heterogeneous_dataset(tmp_path,
                                                                                capsys):
    from tests.data.hetero_layout import write_toy_heco

    write_toy_heco(tmp_path / "data" / "heco" / "toy", num_nodes=100, per_class=20)
    data = ["--dataset", "heco:toy", "--root", str(tmp_path / "data")]
    out = tmp_path / "dmgi"
    assert main([*PRETRAIN, "--model", "dmgi", *data, "--out", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "100 m nodes, relations (MKM" in printed and "test Macro-F1 (%)" in printed
    assert "k-means NMI (%)" in printed and "Sim@5" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["weight_decay"] == 1e-4          # DMGI's own default: it bounds Z
    assert main(["embed", str(out)]) == 0
    assert "equal to the run's embeddings.pt" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--out", str(tmp_path / "eval.json")]) == 0
    scored = json.loads((tmp_path / "eval.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert scored["test_macro_f1"] == pytest.approx(metrics["per_seed"][0]["test_macro_f1"])

    sampled = tmp_path / "hdgi"       # HDGI on metapath-sampled mini-batches
    assert main([*PRETRAIN, "--model", "hdgi", *data, "--batch-size", "32", "--out",
                 str(sampled), *FAST]) == 0
    assert "test Macro-F1 (%)" in capsys.readouterr().out
    assert json.loads((sampled / "config.json").read_text())["batch_size"] == 32

    single = tmp_path / "dgi"
    assert main([*PRETRAIN, "--model", "dgi", *data, "--relation", "mkm", "--out", str(single),
                 *FAST]) == 0
    printed = capsys.readouterr().out
    assert "DGI reads one graph: heco:toy's MKM relation" in printed
    assert "test Macro-F1 (%)" in printed       # scored as the multiplex models are
    assert json.loads((single / "config.json").read_text())["relation"] == "MKM"
    assert main(["embed", str(single)]) == 0
    assert "equal to the run's" in capsys.readouterr().out

    assert main([*PRETRAIN, "--model", "dmgi", "--dataset", "planted", *FAST]) == 2
    assert "is homogeneous" in capsys.readouterr().err
    assert main([*PRETRAIN, "--model", "dgi", "--dataset", "planted", "--metapaths", "PAP",
                 *FAST]) == 2
    assert "--metapaths goes with a heterogeneous dataset" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["multiview", "mvgrl", "grace", "gca", "cpc"])
def test_pretrain_each_multi_view_model(tmp_path, capsys, model):
    out = tmp_path / model
    assert main([*PRETRAIN, "--model", model, "--dataset", "planted", "--hidden", "16",
                 "--epochs", "3", "--patience", "3", "--out", str(out)]) == 0
    z = torch.load(out / "embeddings.pt")
    assert z.shape[0] == 2000 and bool(torch.isfinite(z).all())
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == model and config["hidden_channels"] == 16
    assert 0.0 <= json.loads((out / "metrics.json").read_text())["per_seed"][0]["test_acc"] <= 1


def test_pretrain_hierarchical_infomax_on_graphs_and_on_one_graph(tmp_path, capsys, data_root):
    from graphinfo import load_run

    out = tmp_path / "uhgr"
    assert main([*PRETRAIN, "--model", "uhgr", "--dataset", "mutag", "--root",
                 str(data_root), "--epochs", "2", "--hidden", "4", "--layers", "2",
                 "--out", str(out)]) == 0
    assert "10-fold SVM accuracy" in capsys.readouterr().out
    assert torch.load(out / "embeddings.pt").shape == (188, 16)   # levels 0 and 1, 2 x 4
    config = json.loads((out / "config.json").read_text())
    assert config["level"] == "graph" and config["batch_size"] == 20
    assert config["max_grad_norm"] == 2.0                       # the model's default
    # MUTAG's largest graph (28 nodes) sizes the clusters; recorded, so the run reloads.
    assert config["model_kwargs"]["max_num_nodes"] == 28
    assert load_run(out).model.num_clusters == (7,)
    nodes = tmp_path / "uhgr_nodes"
    assert main([*PRETRAIN, "--model", "uhgr", "--dataset", "planted", "--epochs", "2",
                 "--hidden", "4", "--layers", "2", "--max-grad-norm", "1.5",
                 "--out", str(nodes)]) == 0
    config = json.loads((nodes / "config.json").read_text())
    assert config["level"] == "node" and config["max_grad_norm"] == 1.5
    assert torch.load(nodes / "embeddings.pt").shape[1] == 8
    with pytest.raises(SystemExit):
        main([*PRETRAIN, "--model", "uhgr", "--max-grad-norm", "0", "--out", str(nodes)])


def test_pretrain_graph_level_mvgrl_on_a_tu_dataset(tmp_path, capsys, data_root):
    out = tmp_path / "mvgrl_graph"
    assert main([*PRETRAIN, "--model", "mvgrl_graph", "--dataset", "mutag", "--root",
                 str(data_root), "--epochs", "2", "--hidden", "8", "--layers", "2",
                 "--out", str(out)]) == 0
    assert "10-fold SVM accuracy" in capsys.readouterr().out
    assert torch.load(out / "embeddings.pt").shape == (188, 8)
    config = json.loads((out / "config.json").read_text())
    assert config["num_layers"] == 2 and config["batch_size"] == 64


def test_early_failures_are_one_error_line_with_exit_code_2(tmp_path, capsys):
    out = tmp_path / "run"
    cases = [(["--device", "foo"], "error: unknown device 'foo'; use cpu, cuda or cuda:N"),
             (["--device", "meta"], "error: --device 'meta': graphinfo runs on cpu, cuda or "
                                    "cuda:N"),
             # refused by the size estimate, or by the failed allocation of the settings
             # check, whichever comes first on this machine
             (["--hidden", "1000000000"], ("error: --hidden 1000000000 needs at least",
                                           "error: out of memory: ")),
             (["--seed", "4294967295", "--seeds", "2"], "error: --seed 4294967295 with "
                                                        "--seeds 2 runs seeds beyond")]
    for flags, message in cases:
        assert main([*PRETRAIN, *FAST, *flags, "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert captured.err.strip().startswith(message), captured.err   # str or tuple
        assert len(captured.err.strip().splitlines()) == 1 and "seed 0:" not in captured.out
    for flags, message in ((["--seed", "-1"], "argument --seed: expected a seed in "
                                               "0..4294967295, got -1"),
                           (["--batch-size", "1e30"], "argument --batch-size: invalid "
                                                      "_positive_int value: '1e30'")):
        with pytest.raises(SystemExit) as stop:
            main([*PRETRAIN, *flags])
        assert stop.value.code == 2
        # argparse's usage text is left out: one line, as every other failure.
        assert capsys.readouterr().err == f"error: {message} (see 'graphinfo pretrain --help')\n"
    assert not out.exists()


def test_a_missing_dataset_is_one_line_and_its_folders_come_with_debug(tmp_path, capsys):
    argv = [*PRETRAIN, "--dataset", "cora", "--root", str(tmp_path / "empty"), "--out",
            str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: Raw files of dataset 'cora' were not found") and \
        "'graphinfo datasets --paths' lists them" in err
    assert main(["--debug", *argv]) == 2
    err = capsys.readouterr().err
    assert "Folders searched:" in err and str(tmp_path / "empty") in err


def test_the_size_estimate_refuses_what_cannot_fit_and_passes_what_can():
    from graphinfo.cli import _check_memory
    from graphinfo.models import DGI

    _check_memory(DGI, {"hidden_channels": 512}, 1433, 2708)
    with pytest.raises(ValueError, match=r"--hidden 1000000000 needs at least [\d,.]+ GiB for "
                                         r"2,708 nodes and 1,433 features; this machine has"):
        _check_memory(DGI, {"hidden_channels": 10**9}, 1433, 2708)


def _interrupt_seed(monkeypatch, seed, after_epochs, loop="fit"):
    """Makes the training of ``seed`` (by the engine's ``loop``) stop like a killed process
    after ``after_epochs`` epochs (and the checkpoint written then); the other seeds train
    normally."""
    import graphinfo.experiment as experiment

    fit = getattr(experiment, loop)

    def interrupted(model, data, **kwargs):
        if kwargs["checkpoint"].name != f"seed-{seed}.ckpt":
            return fit(model, data, **kwargs)
        fit(model, data, **{**kwargs, "epochs": after_epochs})
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, loop, interrupted)


@pytest.mark.parametrize("seed, after_epochs", [(0, 4), (1, 7)])
def test_resume_continues_a_killed_run_to_the_uninterrupted_result(tmp_path, capsys,
                                                                   monkeypatch, seed,
                                                                   after_epochs):
    flags = [*PRETRAIN, *FAST, "--seeds", "2", "--checkpoint-every", "3", "--no-baselines"]
    assert main([*flags, "--out", str(tmp_path / "ref")]) == 0
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        _interrupt_seed(patch, seed, after_epochs)
        with pytest.raises(KeyboardInterrupt):
            main([*flags, "--out", str(out)])
    progress = tmp_path / ".run.progress"
    assert not out.exists() and (progress / f"seed-{seed}.ckpt").exists()
    assert (progress / "seed-0.json").exists() == (seed == 1)
    capsys.readouterr()

    # A new run into the same --out is refused: the killed one is there.
    assert main([*flags, "--out", str(out)]) == 2
    assert "holds a killed run in progress" in capsys.readouterr().err
    # --out alone takes the run's flags over.
    assert main(["pretrain", "--out", str(out), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert ("seed 0: " in printed) and (("finished before the resume" in printed) == (seed == 1))
    assert not progress.exists()
    for name in ("embeddings.pt", "model.pt"):
        reference, resumed = torch.load(tmp_path / "ref" / name), torch.load(out / name)
        if isinstance(reference, dict):
            assert all(torch.equal(reference[key], resumed[key]) for key in reference)
        else:
            assert torch.equal(reference, resumed)
    keys = ("test_acc", "valid_acc", "epochs", "best_loss")
    reference = json.loads((tmp_path / "ref" / "metrics.json").read_text())["per_seed"]
    resumed = json.loads((out / "metrics.json").read_text())["per_seed"]
    assert [[row[key] for key in keys] for row in resumed] == \
        [[row[key] for key in keys] for row in reference]
    assert resumed[seed]["resumed_from_epoch"] == after_epochs

    # Resuming again finds the complete run and trains nothing.
    assert main(["pretrain", "--out", str(out), "--resume"]) == 0
    assert "holds the complete run" in capsys.readouterr().out


def test_resume_refuses_what_it_cannot_continue(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert main([*PRETRAIN, *FAST, "--out", str(out), "--resume"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --resume: no run in progress for --out {out} (nothing was killed there); "
        f"start the run without --resume")
    with monkeypatch.context() as patch:
        _interrupt_seed(patch, 0, 3)
        with pytest.raises(KeyboardInterrupt):
            main([*PRETRAIN, *FAST, "--out", str(out)])
    capsys.readouterr()
    assert main([*PRETRAIN, *FAST, "--hidden", "32", "--out", str(out), "--resume"]) == 2
    assert "these differ: --hidden 32 (the run's: 16)" in capsys.readouterr().err
    # --overwrite discards the killed run and starts again.
    assert main([*PRETRAIN, *FAST, "--out", str(out), "--overwrite"]) == 0
    assert (out / "embeddings.pt").exists() and not (tmp_path / ".run.progress").exists()


def test_debug_shows_the_traceback_of_an_expected_failure(tmp_path, capsys):
    for argv in (["--debug", *PRETRAIN, "--device", "foo"], [*PRETRAIN, "--device", "foo",
                                                              "--debug"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err
        assert err.strip().splitlines()[-1] == "error: unknown device 'foo'; use cpu, cuda or " \
                                               "cuda:N"


def test_resume_continues_a_killed_graph_level_run(tmp_path, capsys, monkeypatch, data_root):
    flags = [*PRETRAIN, "--model", "infograph", "--dataset", "mutag", "--root", str(data_root),
             "--epochs", "4", "--hidden", "8", "--layers", "2", "--seeds", "2",
             "--checkpoint-every", "1"]
    assert main([*flags, "--out", str(tmp_path / "ref")]) == 0
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        _interrupt_seed(patch, 1, 2, loop="fit_graphs")
        with pytest.raises(KeyboardInterrupt):
            main([*flags, "--out", str(out)])
    assert main([*flags, "--out", str(out), "--resume"]) == 0
    assert "seed 0: 10-fold SVM" in capsys.readouterr().out
    assert torch.equal(torch.load(tmp_path / "ref" / "embeddings.pt"),
                       torch.load(out / "embeddings.pt"))
    reference = json.loads((tmp_path / "ref" / "metrics.json").read_text())["per_seed"]
    resumed = json.loads((out / "metrics.json").read_text())["per_seed"]
    assert [row["accuracy"] for row in resumed] == [row["accuracy"] for row in reference]
    assert [row.get("resumed_from_epoch") for row in resumed] == [None, 2]
