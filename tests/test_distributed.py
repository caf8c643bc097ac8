"""Two CPU processes with the gloo backend train like one process."""
from pathlib import Path

import pytest
import torch

from graphinfo import distributed
from graphinfo.data.synthetic import planted_partition
from graphinfo.evaluation import linear_probe
from graphinfo.minibatch import embed_layerwise, fit_minibatch
from graphinfo.models import DGI
from tests.conftest import split_of

EPOCHS = 12
GLOBAL_BATCH = 128


def _graph():
    return planted_partition(num_nodes=1200, num_classes=4, avg_degree=8.0, num_features=32,
                             features="gaussian", feature_noise=5.0, seed=2)


def _train(out: Path, processes: int) -> None:
    """Trains DGI on the planted graph; rank 0 writes embeddings, every rank its weights."""
    torch.set_num_threads(1)
    data = _graph()
    torch.manual_seed(0)
    model = DGI(64, in_channels=data.num_features)
    torch.manual_seed(100 + distributed.rank())   # independent sampling and corruption
    history = fit_minibatch(model, data, batch_size=GLOBAL_BATCH // processes,
                            num_neighbors=[5], epochs=EPOCHS, patience=None, lr=0.005)
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()},
               out / f"state-{distributed.rank()}.pt")
    if distributed.is_main_process():
        torch.save({"z": embed_layerwise(model, data), "losses": history.losses},
                   out / "result.pt")


def _summary_gradient() -> tuple[float, float]:
    """Each process p holds x_p = p + 1 and weights the all-reduced mean m by w_p = 10 (p + 1);
    the gradient reaching each x_p must be sum_p w_p / 2 = 15 (the mean's value is 1.5)."""
    x = torch.tensor([distributed.rank() + 1.0], requires_grad=True)
    mean = distributed.all_reduce_mean(x)
    (10.0 * (distributed.rank() + 1) * mean).sum().backward()
    return float(mean), float(x.grad)


def _worker(out: str) -> None:
    distributed.init_from_env("cpu")
    try:
        assert distributed.world_size() == 2 and distributed.backend_name() == "gloo"
        torch.save(_summary_gradient(), Path(out) / f"gradient-{distributed.rank()}.pt")
        _train(Path(out), processes=2)
    finally:
        distributed.destroy()


def test_two_gloo_processes_train_as_well_as_one(tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    single.mkdir()
    multi.mkdir()
    _train(single, processes=1)
    distributed.launch(2, _worker, str(multi))

    for rank in (0, 1):
        assert torch.load(multi / f"gradient-{rank}.pt") == (1.5, 15.0)
    # DDP kept the two replicas identical.
    state0, state1 = (torch.load(multi / f"state-{r}.pt") for r in (0, 1))
    assert all(torch.equal(state0[k], state1[k]) for k in state0)
    data = _graph()
    split = split_of(data)
    results = {}
    for name, folder in (("single", single), ("multi", multi)):
        result = torch.load(folder / "result.pt")
        assert result["losses"][-1] < result["losses"][0]
        results[name] = linear_probe(result["z"], data.y, split)["test_acc"]
    raw = linear_probe(data.x, data.y, split)["test_acc"]
    assert results["single"] > raw + 0.05
    assert abs(results["multi"] - results["single"]) <= 0.02, results


def test_launch_reports_a_failing_process():
    from torch.multiprocessing import ProcessRaisedException

    from tests.spawn_targets import fail_on_rank_one

    with pytest.raises(ProcessRaisedException, match="rank 1 failed on purpose"):
        distributed.launch(2, fail_on_rank_one)


def test_init_from_env_names_missing_variables(monkeypatch):
    for key in distributed.ENV_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match="missing: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT"):
        distributed.init_from_env()
    assert not distributed.is_distributed() and distributed.world_size() == 1
    assert distributed.all_reduce_scalar(2.5) == 2.5


def _resume_worker(out: str, epochs: int, resume: bool) -> None:
    distributed.init_from_env("cpu")
    try:
        torch.set_num_threads(1)
        data = _graph()
        torch.manual_seed(0)
        model = DGI(16, in_channels=data.num_features)
        torch.manual_seed(100 + distributed.rank())
        history = fit_minibatch(model, data, batch_size=64, num_neighbors=[5], epochs=epochs,
                                patience=None, checkpoint=Path(out) / "ckpt.pt", resume=resume)
        if distributed.is_main_process():
            torch.save(history.losses, Path(out) / f"losses-{epochs}-{resume}.pt")
    finally:
        distributed.destroy()


def test_a_resumed_two_process_run_equals_an_uninterrupted_one(tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    whole.mkdir()
    parts.mkdir()
    distributed.launch(2, _resume_worker, str(whole), 4, False)
    distributed.launch(2, _resume_worker, str(parts), 2, False)
    distributed.launch(2, _resume_worker, str(parts), 4, True)
    reference = torch.load(whole / "losses-4-False.pt")
    resumed = torch.load(parts / "losses-4-True.pt")
    assert len(resumed) == 4
    # Each process's sampling and corruption continued from its own saved random state.
    assert resumed == pytest.approx(reference, rel=1e-6)
