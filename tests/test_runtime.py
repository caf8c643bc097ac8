import platform

import pytest

import graphinfo.train
from graphinfo import runtime
from graphinfo.runtime import allocator_tuning_enabled, tune_cpu_allocator


@pytest.mark.parametrize("value, enabled", [
    (None, True), ("1", True), ("yes", True), ("true", True), ("0", False), ("false", False),
    ("FALSE", False), ("no", False), (" off ", False), ("Off", False),
])
def test_allocator_tuning_follows_the_environment(monkeypatch, value, enabled):
    if value is None:
        monkeypatch.delenv("GRAPHINFO_TUNE_ALLOCATOR", raising=False)
    else:
        monkeypatch.setenv("GRAPHINFO_TUNE_ALLOCATOR", value)
    assert allocator_tuning_enabled() is enabled


class FakeLibc:
    """A C library whose ``mallopt`` records its calls and returns ``result``."""

    def __init__(self, result=1, glibc=True):
        self.calls = []
        self.result = result
        if glibc:
            self.gnu_get_libc_version = lambda: b"2.99"

        def mallopt(param, value):
            self.calls.append((param, value))
            return self.result

        self.mallopt = mallopt


@pytest.fixture
def fake_libc(monkeypatch):
    """Loads ``FakeLibc`` instances instead of the real C library, from a fresh state."""
    loaded = []

    def load(libc):
        def cdll(name):
            loaded.append(name)
            if libc is None:
                raise OSError("no C library")
            return libc
        monkeypatch.setattr(runtime.ctypes, "CDLL", cdll)
        monkeypatch.setattr(runtime, "_tuned", None)
        monkeypatch.setattr(runtime.sys, "platform", "linux")
        return loaded

    return load


def test_tuning_sets_both_thresholds_once(fake_libc):
    libc = FakeLibc()
    loaded = fake_libc(libc)
    assert tune_cpu_allocator() is True
    assert dict(libc.calls) == {runtime._M_MMAP_THRESHOLD: 1 << 30,
                                runtime._M_TRIM_THRESHOLD: 2**31 - 1}
    assert tune_cpu_allocator() is True  # idempotent: nothing is loaded or set again
    assert len(loaded) == 1 and len(libc.calls) == 2


@pytest.mark.parametrize("libc", [FakeLibc(result=0), FakeLibc(glibc=False), None])
def test_tuning_reports_false_where_nothing_was_changed(fake_libc, libc):
    fake_libc(libc)
    assert tune_cpu_allocator() is False
    assert tune_cpu_allocator() is False
    if libc is not None and not hasattr(libc, "gnu_get_libc_version"):
        assert libc.calls == []  # not glibc: these mallopt codes mean something else


def test_tuning_does_nothing_outside_linux(fake_libc, monkeypatch):
    loaded = fake_libc(FakeLibc())
    monkeypatch.setattr(runtime.sys, "platform", "darwin")
    assert tune_cpu_allocator() is False
    assert loaded == []


def test_tuning_the_real_allocator_returns_a_stable_bool():
    first = tune_cpu_allocator()
    assert isinstance(first, bool) and tune_cpu_allocator() is first
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert first is True


@pytest.mark.parametrize("value, tuned", [(None, True), ("0", False)])
def test_fit_tunes_the_allocator_unless_disabled(monkeypatch, tiny_graph, value, tuned):
    from graphinfo.models import DGI

    calls = []
    monkeypatch.setattr(graphinfo.train, "tune_cpu_allocator", lambda: calls.append(1) or True)
    if value is None:
        monkeypatch.delenv("GRAPHINFO_TUNE_ALLOCATOR", raising=False)
    else:
        monkeypatch.setenv("GRAPHINFO_TUNE_ALLOCATOR", value)
    graphinfo.train.fit(DGI(8, in_channels=4), tiny_graph, epochs=1, progress=False)
    assert calls == ([1] if tuned else [])


def test_native_evaluation_fails_early_under_a_tight_memory_limit(monkeypatch):
    """Under an address-space limit that leaves too little, k-means is refused with a
    MemoryError (the CLI's one-line 'out of memory') instead of entering OpenBLAS, which can
    retry a failed map forever; with room enough it runs on one native thread."""
    import numpy as np
    import torch
    from threadpoolctl import threadpool_info

    from graphinfo.evaluation import clustering

    z, y = torch.randn(60, 4), torch.arange(60) % 3
    monkeypatch.setattr(runtime, "address_space_left", lambda: 10 << 20)
    with pytest.raises(MemoryError, match=r"clustering needs about 128 MiB of address space "
                                          r"and the memory limit \(ulimit -v\) leaves 10 MiB"):
        clustering(z, y)

    seen = []

    @runtime.guard_native_memory
    def probe(values):
        seen.append([pool["num_threads"] for pool in threadpool_info()])
        return float(np.asarray(values).sum())

    monkeypatch.setattr(runtime, "address_space_left", lambda: 1 << 40)
    assert probe(np.ones(3)) == 3.0 and all(n == 1 for n in seen[0])
    monkeypatch.setattr(runtime, "address_space_left", lambda: None)   # no limit: untouched
    assert probe(np.ones(3)) == 3.0
