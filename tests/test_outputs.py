"""A run's output folder is written as a set: a failure leaves the previous set, an overwrite
replaces every file, a second run never mixes its files with the first's."""
import json
import os
import subprocess
import sys

import pytest

from graphinfo.cli import main
from graphinfo.outputs import (
    OutputConflictError,
    check_output_folder,
    remove_stale_siblings,
    write_output_set,
)


def _writer(run: str, names=("config.json", "embeddings.pt")):
    def write(folder):
        for name in names:
            (folder / name).write_text(run)
    return write


def _siblings(out):
    return sorted(path.name for path in out.parent.iterdir() if path.name.startswith("."))


def test_a_file_or_another_run_is_refused_before_training(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        check_output_folder(tmp_path / "file")
    out = tmp_path / "run"
    write_output_set(out, _writer("a"))
    with pytest.raises(OutputConflictError, match="holds another run .*pass --overwrite"):
        check_output_folder(out)
    assert check_output_folder(out, overwrite=True) == out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_output_folder(empty) == empty   # an empty folder is fine


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="permissions do not bind root")
def test_a_read_only_parent_is_refused(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="cannot be written"):
            check_output_folder(parent / "run")
    finally:
        parent.chmod(0o700)


def test_an_overwrite_replaces_the_whole_set(tmp_path):
    out = tmp_path / "run"
    write_output_set(out, _writer("a", ("config.json", "embeddings.pt", "loss.png")))
    assert write_output_set(out, _writer("b"), overwrite=True) == out
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "embeddings.pt"]
    assert {p.read_text() for p in out.iterdir()} == {"b"}   # nothing of run a is left
    assert [name for name in _siblings(out) if not name.endswith(".lock")] == []


def test_a_failed_write_leaves_the_previous_set_and_no_temporaries(tmp_path):
    out = tmp_path / "run"
    write_output_set(out, _writer("a"))

    def full_disk(folder):
        (folder / "config.json").write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_output_set(out, full_disk, overwrite=True)
    assert {p.name: p.read_text() for p in out.iterdir()} == {"config.json": "a",
                                                             "embeddings.pt": "a"}
    assert [name for name in _siblings(out) if not name.endswith(".lock")] == []


def test_a_run_that_finds_its_folder_taken_keeps_its_set_beside_it(tmp_path):
    out = tmp_path / "run"
    write_output_set(out, _writer("a"))
    written = write_output_set(out, _writer("b"), run_id="abc123")
    assert written == tmp_path / "run-abc123"
    assert {p.read_text() for p in out.iterdir()} == {"a"}
    assert {p.read_text() for p in written.iterdir()} == {"b"}


def test_stale_temporaries_of_dead_writers_are_removed_live_ones_kept(tmp_path):
    out = tmp_path / "run"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / f".run.tmp-{dead}-0000").mkdir()
    (tmp_path / f".run.old-{dead}-0001").mkdir()
    live = tmp_path / f".run.tmp-{os.getppid()}-0002"   # the parent process is alive
    live.mkdir()
    remove_stale_siblings(out)
    assert _siblings(out) == [live.name]


def test_a_second_pretrain_into_the_same_out_is_one_error_line_before_training(tmp_path,
                                                                                capsys):
    out = tmp_path / "run"
    fast = ["pretrain", "--no-plots", "--dataset", "planted", "--hidden", "8", "--epochs", "3",
            "--out", str(out)]
    assert main(fast) == 0
    first = json.loads((out / "config.json").read_text())["run_id"]
    capsys.readouterr()
    assert main(fast) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"error: --out {out} holds another run (config.json, metrics.json, embeddings.pt, "
        f"model.pt); pass --overwrite to replace it, or choose another folder"]
    assert "seed 0" not in captured.out   # refused before training
    assert main([*fast, "--overwrite"]) == 0
    second = json.loads((out / "config.json").read_text())
    assert second["run_id"] != first and "overwrite" not in second["flags"]
    (tmp_path / "file").write_text("x")
    assert main([*fast[:-1], str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.strip() == f"error: --out {tmp_path / 'file'} is a file, " \
                                              f"not a folder"
