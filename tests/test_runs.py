import json

import pytest
import torch

from graphinfo import load_run
from graphinfo.cli import main
from graphinfo.data import load_dataset, planted_partition
from graphinfo.runs import run_model_kwargs

#: pretrain without the plots (their own test draws them).
PRETRAIN = ["pretrain", "--no-plots"]
FAST = ["--hidden", "16", "--epochs", "5", "--patience", "5"]


def _pretrain(out, *flags):
    assert main([*PRETRAIN, "--out", str(out), *FAST, *flags]) == 0
    return out


def test_load_run_rebuilds_the_model_and_embeds_the_training_graph_exactly(tmp_path, capsys):
    out = _pretrain(tmp_path / "dgi")
    run = load_run(out)
    assert run.level == "node" and not run.model.training
    assert run.metrics["embeddings_seed"] == 0 and run.config["in_channels"] == 1000
    z = run.embed(load_dataset("planted"))
    assert torch.equal(z, torch.load(out / "embeddings.pt", weights_only=True))

    capsys.readouterr()
    assert main(["embed", str(out), "--out", str(tmp_path / "z.pt")]) == 0
    assert "(equal to the run's embeddings.pt)" in capsys.readouterr().out
    assert torch.equal(torch.load(tmp_path / "z.pt", weights_only=True), z)


def test_a_run_embeds_a_new_graph_with_the_same_feature_size(tmp_path):
    for model in ("dgi", "gmi"):
        run = load_run(_pretrain(tmp_path / model, "--model", model))
        new = planted_partition(num_nodes=300, num_classes=3, seed=7)   # 1000 features
        z = run.embed(new)
        assert z.shape == (300, 16) and torch.isfinite(z).all()
        with torch.no_grad():
            direct = run.model.embed(new.x, new.edge_index)
        assert direct.shape == (300, 16)
        wrong = planted_partition(num_nodes=50, num_classes=2, num_features=8, seed=0)
        with pytest.raises(ValueError, match="trained on 1000 node features; this data has 8"):
            run.embed(wrong)


def test_options_and_mini_batch_runs_come_back_as_they_ran(tmp_path, capsys):
    out = _pretrain(tmp_path / "gmi", "--model", "gmi", "--option", "variant='adaptive'")
    run = load_run(out)
    assert run.model.variant == "adaptive"
    assert run_model_kwargs(run.config)["variant"] == "adaptive"

    out = _pretrain(tmp_path / "mini", "--batch-size", "512")
    capsys.readouterr()
    assert main(["embed", str(out)]) == 0      # layer-wise, as the run exported
    assert "(equal to the run's embeddings.pt)" in capsys.readouterr().out
    assert (out / "embeddings-planted.pt").is_file()


def test_a_config_without_model_kwargs_is_rebuilt_from_its_settings(tmp_path):
    out = _pretrain(tmp_path / "gmi", "--model", "gmi", "--option", "variant='adaptive'")
    config = json.loads((out / "config.json").read_text())
    del config["model_kwargs"]
    (out / "config.json").write_text(json.dumps(config))
    assert load_run(out).model.variant == "adaptive"


def test_graph_runs_embed_their_graphs_exactly(tmp_path, capsys, data_root):
    out = tmp_path / "infograph"
    assert main([*PRETRAIN, "--model", "infograph", "--dataset", "mutag", "--root",
                 str(data_root), "--epochs", "1", "--hidden", "8", "--layers", "2",
                 "--out", str(out)]) == 0
    run = load_run(out)
    assert run.level == "graph" and run.config["root"] == str(data_root.absolute())
    capsys.readouterr()
    assert main(["embed", str(out)]) == 0       # the dataset and root the run recorded
    assert "188 graph embeddings of size 16 (equal to the run's embeddings.pt)" in \
        capsys.readouterr().out

    # Scored again with the run's protocol: its 10-fold figure, folds seeded as the run did.
    assert main(["evaluate", str(out), "--out", str(tmp_path / "eval.json")]) == 0
    assert "10-fold SVM accuracy (folds seeded with 0" in capsys.readouterr().out
    scored = json.loads((tmp_path / "eval.json").read_text())
    ran = json.loads((out / "metrics.json").read_text())["per_seed"][0]
    assert scored["accuracy"] == ran["accuracy"] and scored["accuracy_std"] == ran["accuracy_std"]


def test_bad_run_folders_are_named_in_the_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="run folder .*missing does not exist"):
        load_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json does not exist"):
        load_run(tmp_path / "empty")
    out = _pretrain(tmp_path / "dgi")
    (out / "model.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="model.pt could not be read safely"):
        load_run(out)
    torch.save({"unrelated": torch.zeros(1)}, out / "model.pt")
    with pytest.raises(ValueError, match="does not fit the model 'dgi'"):
        load_run(out)
    (out / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        load_run(out)
    assert main(["embed", str(tmp_path / "missing")]) == 2


def test_pretrain_config_replays_a_run_to_the_same_metrics(tmp_path, capsys):
    out = _pretrain(tmp_path / "run", "--seeds", "2", "--seed", "3", "--model", "gmi",
                    "--option", "variant='adaptive'")
    assert main([*PRETRAIN, "--config", str(out / "config.json")]) == 0
    replay = tmp_path / "run-replay"                      # the run itself is left alone
    assert "wrote " + str(replay / "embeddings.pt") in capsys.readouterr().out
    first = json.loads((out / "metrics.json").read_text())["per_seed"]
    again = json.loads((replay / "metrics.json").read_text())["per_seed"]
    for row in (*first, *again):
        row.pop("train_seconds")
    assert first == again and [row["seed"] for row in again] == [3, 4]
    assert torch.equal(torch.load(out / "embeddings.pt", weights_only=True),
                       torch.load(replay / "embeddings.pt", weights_only=True))
    assert load_run(replay).model.variant == "adaptive"

    # A flag given with --config wins over the run's.
    assert main([*PRETRAIN, "--config", str(out), "--seeds", "1", "--out",
                 str(tmp_path / "one")]) == 0
    assert len(json.loads((tmp_path / "one" / "metrics.json").read_text())["per_seed"]) == 1


def test_evaluate_scores_a_node_run_folder_as_the_run_did(tmp_path, capsys):
    out = _pretrain(tmp_path / "run", "--seed", "2")
    assert main(["evaluate", str(out), "--out", str(tmp_path / "eval.json")]) == 0
    scored = json.loads((tmp_path / "eval.json").read_text())
    ran = json.loads((out / "metrics.json").read_text())["per_seed"][0]
    assert scored["seed"] == 2
    for key in ("test_acc", "valid_acc", "nmi", "ari"):
        assert scored[key] == pytest.approx(ran[key])


def test_replay_and_evaluate_refuse_what_they_cannot_read(tmp_path, capsys):
    assert main([*PRETRAIN, "--config", str(tmp_path / "nothing")]) == 2
    assert "run folder" in capsys.readouterr().err
    out = _pretrain(tmp_path / "run")
    config = json.loads((out / "config.json").read_text())
    del config["flags"]
    (out / "config.json").write_text(json.dumps(config))
    assert main([*PRETRAIN, "--config", str(out)]) == 2
    assert "records no 'flags'" in capsys.readouterr().err
    assert main(["evaluate", str(out / "embeddings.pt")]) == 2
    assert "give --dataset" in capsys.readouterr().err


def test_metrics_keep_every_seeds_loss_curve(tmp_path):
    out = _pretrain(tmp_path / "run", "--seeds", "2")
    metrics = json.loads((out / "metrics.json").read_text())
    for row in metrics["per_seed"]:
        losses = metrics["curves"][str(row["seed"])]["loss"]
        assert len(losses) == row["epochs"]
        assert min(losses) == pytest.approx(row["best_loss"])


def test_validation_selection_records_its_checks(planted):
    from graphinfo.experiment import run_seed
    from tests.conftest import split_of

    run = run_seed("dgi", planted, split_of(planted), 0, model_kwargs={"hidden_channels": 8},
                   fit_kwargs={"epochs": 6, "patience": None, "progress": False},
                   select_every=2)
    assert len(run.curves["loss"]) == run.metrics["epochs"]
    assert [epoch for epoch, _ in run.curves["valid"]] == [0, 2, 4]
    assert all(0.0 <= score <= 1.0 for _, score in run.curves["valid"])


def test_pretrain_draws_the_loss_and_an_embedding_map(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    assert main(["pretrain", "--out", str(out), "--hidden", "8", "--epochs", "3", "--seeds", "2",
                 "--option", "corruption='shuffle'"]) == 0
    assert "model.pt, metrics.json, config.json, loss.png and embedding.png" in \
        capsys.readouterr().out
    for name in ("loss.png", "embedding.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))                     # written atomically

    import graphinfo.plots

    def missing():
        raise ImportError("plots need matplotlib: pip install 'graphinfo[plots]'")

    monkeypatch.setattr(graphinfo.plots, "require_matplotlib", missing)
    assert main(["pretrain", "--out", str(tmp_path / "bare"), *FAST]) == 0
    assert "plots skipped: plots need matplotlib: pip install 'graphinfo[plots]'; --no-plots " \
        "turns them off" in capsys.readouterr().out
    assert not (tmp_path / "bare" / "loss.png").exists()


def test_the_embedding_map_subsamples_large_inputs(tmp_path):
    pytest.importorskip("matplotlib")
    from graphinfo.plots import plot_embedding

    z = torch.randn(120, 6)
    labels = torch.arange(120) % 3
    path = plot_embedding(z, labels, tmp_path / "map.png", max_points=40)
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match=r"must be \[N, F\] with N >= 4"):
        plot_embedding(torch.randn(3, 2), None, tmp_path / "tiny.png")


def test_report_prints_the_runs_table_again(tmp_path, capsys):
    out = _pretrain(tmp_path / "run", "--seeds", "2")
    printed = capsys.readouterr().out
    table = printed[printed.index("metric "):printed.index("wrote ")]
    assert main(["report", str(out)]) == 0
    again = capsys.readouterr().out
    assert again.startswith("dgi on planted: hidden_channels 16")
    assert "  seed 0: test_acc " in again and "  seed 1: test_acc " in again
    for line in table.splitlines():
        if line.startswith(("test accuracy", "valid accuracy", "k-means")):
            assert line in again
    assert main(["report", str(tmp_path / "missing")]) == 2
