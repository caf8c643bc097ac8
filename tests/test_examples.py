"""The worked example of docs/extending.rst runs as the docs say: a model in its own file,
trained full-batch, on sampled subgraphs, on two processes, through the Embedder and the CLI."""
import re
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def test_the_custom_model_example_trains_five_ways():
    result = subprocess.run([sys.executable, "examples/custom_model.py", "--quick"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
                            env={**__import__("os").environ, "GRAPHINFO_NO_PROGRESS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    scores = dict(re.findall(r"^(.+?)\s+linear-probe test accuracy ([\d.]+) %$",
                             result.stdout, flags=re.MULTILINE))
    assert set(scores) == {"raw features", "full-batch", "sampled subgraphs", "2 processes",
                           "Embedder", "command line"}, result.stdout
    raw = float(scores.pop("raw features"))
    assert all(float(value) > raw + 15 for value in scores.values()), scores
    assert "NeighbourhoodInfomax on planted" in result.stdout   # the CLI names the class
