"""benchmarks/gpu.py runs on the CPU in its dry mode: every implementation trains on every
synthetic shape, mini-batch products runs, and the report says what ran; without --dry the
CPU is refused."""
import json
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def run_gpu_benchmark(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "benchmarks/gpu.py", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_dry_run_on_the_cpu_trains_every_implementation(tmp_path):
    result = run_gpu_benchmark("--device", "cpu", "--dry", "--out", str(tmp_path),
                               "--shapes", "arxiv-like", "products-like")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "gpu.json").read_text())
    for shape in ("arxiv-like", "products-like"):
        entry = report["full"][shape]
        assert entry["edges"] > 0 and entry["features"] > 0
        assert set(entry["runs"]) == {"graphinfo", "pyg", "pyg-csr"}
        for run in entry["runs"].values():
            assert "error" not in run, run
            assert len(run["epoch_s"]) == entry["epochs"] == 2
            assert run["median_s"] > 0 and run["first_epoch_s"] > 0
            assert run["peak_bytes"] is None      # no CUDA memory reading on the CPU
    mini = report["mini"]["run"]
    assert "error" not in mini, mini
    assert mini["median_s"] > 0 and mini["steps_per_epoch"] >= 1
    assert mini["scale"] >= 1
    text = (tmp_path / "gpu.md").read_text()
    assert "| products-like | 1,224 |" in text
    assert "## Mini-batch products-like (graphinfo)" in text


def test_the_cpu_without_dry_is_refused(tmp_path):
    result = run_gpu_benchmark("--device", "cpu", "--out", str(tmp_path), timeout=120)
    assert result.returncode == 2
    assert "only --dry runs" in result.stderr
    assert not (tmp_path / "gpu.json").exists()
