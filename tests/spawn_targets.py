"""Functions run in processes started by ``graphinfo.distributed.launch`` in the tests; kept
apart from the test modules so that a child process imports little."""
import os


def fail_on_rank_one() -> None:
    if os.environ["RANK"] == "1":
        raise RuntimeError("rank 1 failed on purpose")
