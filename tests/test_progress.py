import json

import pytest
import torch

from graphinfo.progress import ProgressError, RunProgress, progress_folder, read_progress

FLAGS = {"model": "dgi", "dataset": "planted", "hidden": 16, "progress": None}


def _open(out, **kwargs):
    return RunProgress.open(out, run_id=kwargs.pop("run_id", "r1"),
                            flags=kwargs.pop("flags", FLAGS), seeds=kwargs.pop("seeds", [0, 1]),
                            **kwargs)


def test_a_live_run_holds_its_progress_and_a_second_run_is_refused(tmp_path):
    out = tmp_path / "run"
    first = _open(out)
    assert progress_folder(out) == tmp_path / ".run.progress"
    assert read_progress(out)["run_id"] == "r1"
    for kwargs in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(ProgressError, match="being written by another pretrain run"):
            _open(out, run_id="r2", **kwargs)
    first.close(remove=True)
    assert not progress_folder(out).exists()
    _open(out, run_id="r3").close(remove=True)     # free again once the first one finished


def test_a_killed_run_is_refused_resumed_or_discarded(tmp_path):
    out = tmp_path / "run"
    killed = _open(out)
    killed.record_seed(0, {"seed": 0, "valid_acc": 0.5}, {"loss": [1.0]},
                       outputs=(torch.ones(3, 2), {"w": torch.zeros(1)}))
    killed.close(remove=False)          # what the OS does for a killed process

    with pytest.raises(ProgressError, match=r"holds a killed run in progress \(run id r1, 1 "
                                            r"of 2 seeds finished\); --resume continues it"):
        _open(out, run_id="r2")
    with pytest.raises(ProgressError, match=r"these differ: --hidden 32 \(the run's: 16\)"):
        _open(out, run_id="r2", flags={**FLAGS, "hidden": 32}, resume=True)
    with pytest.raises(ProgressError, match="over its seeds"):
        _open(out, run_id="r2", seeds=[0, 1, 2], resume=True)
    # Flags that only change how the run is shown may differ.
    resumed = _open(out, run_id="r2", flags={**FLAGS, "progress": True}, resume=True)
    assert resumed.run_id == "r1"
    assert resumed.finished() == {0: {"metrics": {"seed": 0, "valid_acc": 0.5},
                                      "curves": {"loss": [1.0]}}}
    z, state = resumed.outputs(0)
    assert torch.equal(z, torch.ones(3, 2)) and torch.equal(state["w"], torch.zeros(1))
    resumed.close(remove=False)

    discarded = _open(out, run_id="r3", overwrite=True)
    assert discarded.run_id == "r3" and discarded.finished() == {}
    assert sorted(p.name for p in progress_folder(out).iterdir()) == [".lock", "run.json"]
    discarded.close(remove=True)


def test_resume_without_progress_is_refused(tmp_path):
    with pytest.raises(ProgressError, match="no run in progress for --out"):
        _open(tmp_path / "run", resume=True)


def test_only_the_best_seeds_outputs_are_kept(tmp_path):
    progress = _open(tmp_path / "run", seeds=[0, 1, 2])
    progress.checkpoint(0).write_bytes(b"engine checkpoint")
    progress.record_seed(0, {"seed": 0}, {}, outputs=(torch.zeros(2), {}))
    assert not progress.checkpoint(0).exists()       # the seed's checkpoint goes with it
    progress.record_seed(1, {"seed": 1}, {}, outputs=None)
    assert sorted(p.name for p in progress.folder.glob("seed-*")) == [
        "seed-0.json", "seed-0.pt", "seed-1.json"]
    progress.record_seed(2, {"seed": 2}, {}, outputs=(torch.ones(2), {}))
    assert sorted(p.name for p in progress.folder.glob("seed-*.pt")) == ["seed-2.pt"]
    with pytest.raises(ProgressError, match="outputs of finished seed 0 could not be read"):
        progress.outputs(0)
    assert list(progress.finished()) == [0, 1, 2]
    progress.close(remove=True)


def test_an_unreadable_progress_names_its_file(tmp_path):
    out = tmp_path / "run"
    progress = _open(out)
    (progress.folder / "seed-0.json").write_text("{not json")
    with pytest.raises(ProgressError, match=r"seed-0.json could not be read as a finished seed"):
        progress.finished()
    progress.close(remove=False)
    (progress_folder(out) / "run.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ProgressError, match="is not the progress record of a graphinfo run"):
        read_progress(out)
