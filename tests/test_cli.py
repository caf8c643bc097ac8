import json
import subprocess
import sys

import pytest
import torch

from graphinfo.cli import main

FAST = ["--hidden", "16", "--epochs", "20", "--patience", "5"]


def test_pretrain_writes_embeddings_metrics_and_config(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["pretrain", "--dataset", "planted", "--seeds", "2", "--out", str(out), *FAST]) \
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
    assert "not found" in pubmed_line
    assert f"data root: {data_root}" in printed


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    assert main(["pretrain", "--dataset", "no-such-graph", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Unknown dataset 'no-such-graph'" in err
    assert "Traceback" not in err
    assert main(["pretrain", "--estimator", "nwj", "--lr", "10000", "--out", str(tmp_path),
                 *FAST]) == 2
    assert "The loss became" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pretrain", "--seeds", "0"])
    assert "expected an integer >= 1, got 0" in capsys.readouterr().err
    assert main(["pretrain", "--estimator", "kl", "--out", str(tmp_path), *FAST]) == 2
    assert "Unknown estimator 'kl'" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="does not exist"):
        main(["evaluate", str(tmp_path / "missing.pt"), "--dataset", "planted"])
    torch.save(torch.zeros(5, 3), tmp_path / "wrong.pt")
    with pytest.raises(SystemExit, match=r"must hold a tensor of shape \[2000, F\]"):
        main(["evaluate", str(tmp_path / "wrong.pt"), "--dataset", "planted"])


def test_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "graphinfo", "--version"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("graphinfo ")


def test_pretrain_gmi_with_a_model_option(tmp_path, capsys):
    out = tmp_path / "gmi"
    assert main(["pretrain", "--model", "gmi", "--dataset", "planted", "--out", str(out),
                 "--option", "variant=adaptive", "--option", "negatives=2", *FAST]) == 0
    assert "GMI on planted" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["options"] == {"variant": "adaptive", "negatives": 2}
    state = torch.load(out / "model.pt")
    assert state["discriminator.weight"].shape == (16, 64)   # embeddings x input features
    assert torch.load(out / "embeddings.pt").shape == (2000, 16)
    assert main(["pretrain", "--model", "gmi", "--option", "variant", "--out",
                 str(tmp_path), *FAST]) == 2
    assert "--option must look like KEY=VALUE" in capsys.readouterr().err
    assert main(["pretrain", "--model", "gmi", "--option", "hidden_channels=8", "--out",
                 str(tmp_path), *FAST]) == 2
    assert "duplicates a flag: use --hidden" in capsys.readouterr().err


def test_pretrain_infograph_on_a_tu_dataset(tmp_path, capsys, data_root):
    out = tmp_path / "infograph"
    assert main(["pretrain", "--model", "infograph", "--dataset", "mutag", "--root",
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
    assert "encoder" not in config and "patience" not in config
    # Each kind of model refuses the other kind of dataset.
    with pytest.raises(SystemExit, match="learns graph embeddings"):
        main(["pretrain", "--model", "infograph", "--dataset", "planted", "--out",
              str(tmp_path)])
    with pytest.raises(SystemExit, match="learns node embeddings"):
        main(["pretrain", "--model", "gmi", "--dataset", "mutag", "--root", str(data_root),
              "--out", str(tmp_path)])
    assert main(["pretrain", "--model", "infograf", "--out", str(tmp_path)]) == 2
    assert "Unknown model 'infograf'" in capsys.readouterr().err
