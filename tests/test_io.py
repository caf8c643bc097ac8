import json

import pytest
import torch

from graphinfo.io import atomic_write, save_json, save_torch


def test_files_are_written_and_replaced(tmp_path):
    save_json({"a": 1}, tmp_path / "m.json")
    save_json({"a": 2}, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 2}
    save_torch(torch.arange(3), tmp_path / "sub" / "t.pt")
    assert torch.equal(torch.load(tmp_path / "sub" / "t.pt"), torch.arange(3))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["m.json", "sub", "t.pt"]


def test_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = save_json({}, tmp_path / "m.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "m.json"
    save_json({"good": True}, target)

    def crash(f):
        f.write("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, crash, mode="w")
    assert json.loads(target.read_text()) == {"good": True}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_temporaries_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    import os
    import subprocess
    import sys

    from graphinfo.io import remove_stale_temporaries

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".ckpt.pt.{dead}-abcd.tmp"
    live = tmp_path / f".ckpt.pt.{os.getppid()}-efgh.tmp"   # a live writer's: kept
    other = tmp_path / f".other.pt.{dead}-ijkl.tmp"          # another file's: not ours
    for path in (stale, live, other):
        path.write_bytes(b"partial")
    save_torch({"a": 1}, tmp_path / "ckpt.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["ckpt.pt", live.name, other.name])
    assert remove_stale_temporaries(tmp_path / "other.pt") == [other]


def test_a_full_disk_is_reported_as_the_os_error_with_the_file(tmp_path, monkeypatch):
    """torch.save turns a failed write into a RuntimeError about a file position; the caller
    gets the OS's error (errno 28) naming the file, and no temporary file stays."""
    import errno
    import io as stdlib_io

    import graphinfo.io as gio

    class FullDisk(stdlib_io.BufferedWriter):
        written = 0

        def write(self, data):
            self.written += len(data)
            if self.written > 1000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().write(data)

    fdopen = gio.os.fdopen
    monkeypatch.setattr(gio.os, "fdopen",
                        lambda fd, mode: FullDisk(fdopen(fd, mode).detach())
                        if "b" in mode else fdopen(fd, mode))
    path = tmp_path / "z.pt"
    with pytest.raises(OSError) as raised:
        gio.save_torch(torch.zeros(10_000), path)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(path)
    assert list(tmp_path.iterdir()) == []
