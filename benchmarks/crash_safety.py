"""Kill and race tests of the cache, checkpoints and output folders (issue 16's acceptance).

Each trial runs real processes and ``kill -9``s them at a random moment, then reruns:

* ``processing``: a first-time load of a dataset into a fresh cache, killed at a random point of
  its duration; the rerun must succeed, give the same graph, and leave no temporary folder;
* ``checkpoint``: ``fit`` writing a checkpoint every epoch, killed; the resumed rerun must
  succeed and no ``*.tmp`` file may survive it;
* ``outputs``: ``graphinfo pretrain --overwrite`` into a folder holding a complete earlier run,
  killed; the folder must then hold exactly one run's complete set (the earlier or the new),
  and a rerun must succeed and leave no temporary sibling;
* ``concurrent-load``: two first-time loads into one fresh cache at once: both must succeed
  with the same graph;
* ``concurrent-pretrain``: two ``pretrain`` runs into one fresh ``--out`` at once: ``--out``
  must hold one run's complete set (the other run's set is kept beside it, or it was refused);
* ``resume``: ``graphinfo pretrain`` killed at a random moment, then ``pretrain --out DIR
  --resume``: the rerun must succeed and write exactly the uninterrupted run's embeddings,
  weights and per-seed scores, leaving no progress folder and no temporary file (a kill before
  the run recorded its progress is answered by ``--resume`` with its error, and the run is
  then started again);
* ``full-disk``: ``--out`` on a small tmpfs (needs root to mount it) holding a complete run;
  ``pretrain --overwrite`` into it with free space from 5 % to 195 % of a set, every other
  trial without checkpoints (so the disk fills while the set is written, not the
  checkpoint): every run must end in one ``error:`` line with exit code 2 and leave the
  previous complete set untouched and no temporary file, or (room enough) succeed with its
  own complete set (a failed run's progress may stay, for ``--resume``); and, on the same
  file system made read-only, ``pretrain`` must be refused before training.

Usage::

    python benchmarks/crash_safety.py --root ../shared/data --trials 20 \\
        --out benchmarks/results/crash_safety.md
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOAD = ("import sys, torch; from graphinfo.data import load_dataset; "
        "d = load_dataset(sys.argv[1], root=sys.argv[2], download=False).data; "
        "print(float(d.x.double().sum()), int(d.edge_index.size(1)))")
FIT = ("import sys, torch; from graphinfo.data import planted_partition; "
       "from graphinfo.models import DGI; from graphinfo.train import fit; "
       "torch.manual_seed(0); data = planted_partition(num_nodes=3000, seed=0); "
       "m = DGI(64, in_channels=data.num_features); "
       "h = fit(m, data, epochs=int(sys.argv[2]), patience=None, checkpoint=sys.argv[1], "
       "resume=True, progress=False); print(h.epochs)")
RUN_FILES = ("config.json", "embeddings.pt", "metrics.json", "model.pt")


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "GRAPHINFO_CACHE": str(cache), "OMP_NUM_THREADS": "1"}


def _python(code: str, *args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_after(process: subprocess.Popen, delay: float) -> bool:
    """Kills ``process`` after ``delay`` s; whether it was still running then."""
    deadline = time.time() + delay
    while time.time() < deadline:
        if process.poll() is not None:
            return False
        time.sleep(0.01)
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


def _temporaries(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name.startswith(".tmp-") or p.name.endswith(".tmp")
                  or ".tmp-" in p.name or ".old-" in p.name)


def processing(args: argparse.Namespace, work: Path) -> dict:
    start = time.time()
    reference = subprocess.run([sys.executable, "-c", LOAD, args.dataset, args.root],
                               env=_env(work / "ref"), capture_output=True, text=True,
                               check=True).stdout.strip()
    duration = time.time() - start
    ok = killed = 0
    failures = []
    for trial in range(args.trials):
        cache = work / f"p{trial}"
        killed += _kill_after(_python(LOAD, args.dataset, args.root, env=_env(cache)),
                              random.uniform(0.1 * duration, 0.8 * duration))
        rerun = subprocess.run([sys.executable, "-c", LOAD, args.dataset, args.root],
                               env=_env(cache), capture_output=True, text=True)
        left = _temporaries(cache)
        if rerun.returncode == 0 and rerun.stdout.strip() == reference and not left:
            ok += 1
        else:
            failures.append(f"trial {trial}: rc {rerun.returncode}, {left}, "
                            f"{rerun.stderr.strip()[-300:]}")
        shutil.rmtree(cache, ignore_errors=True)
    return {"trials": args.trials, "killed while running": killed, "reruns ok": ok,
            "first-time load (s)": round(duration, 1), "failures": failures}


def checkpoint(args: argparse.Namespace, work: Path) -> dict:
    ok = killed = 0
    failures = []
    for trial in range(args.trials):
        folder = work / f"c{trial}"
        folder.mkdir()
        path = folder / "ckpt.pt"
        process = _python(FIT, str(path), "200", env=_env(work / "cache"))
        killed += _kill_after(process, random.uniform(3.0, 12.0))
        rerun = subprocess.run([sys.executable, "-c", FIT, str(path), "200"],
                               env=_env(work / "cache"), capture_output=True, text=True)
        left = _temporaries(folder)
        if rerun.returncode == 0 and not left:
            ok += 1
        else:
            failures.append(f"trial {trial}: rc {rerun.returncode}, {left}, "
                            f"{rerun.stderr.strip()[-300:]}")
    return {"trials": args.trials, "killed while running": killed, "reruns ok": ok,
            "failures": failures}


def _pretrain(out: Path, env: dict[str, str], *extra: str) -> list[str]:
    return [sys.executable, "-m", "graphinfo", "pretrain", "--no-plots", "--dataset",
            "planted", "--hidden", "16", "--epochs", "30", "--seeds", "2", "--out", str(out),
            *extra]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _run_id(folder: Path) -> str | None:
    """The run id of a complete set whose config and metrics agree on it, else ``None``."""
    if not folder.is_dir() or sorted(p.name for p in folder.iterdir()) != sorted(RUN_FILES):
        return None
    config = json.loads((folder / "config.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    same = config.get("run_id") is not None and config.get("run_id") == metrics.get("run_id")
    return config["run_id"] if same else None


def _one_complete_set(folder: Path) -> bool:
    return _run_id(folder) is not None


def outputs(args: argparse.Namespace, work: Path) -> dict:
    env = _env(work / "cache")
    out = work / "runs" / "run"
    subprocess.run(_pretrain(out, env), env=env, check=True, capture_output=True)
    start = time.time()
    subprocess.run(_pretrain(out, env, "--overwrite"), env=env, check=True, capture_output=True)
    duration = time.time() - start
    ok = killed = 0
    failures = []
    for trial in range(args.trials):
        before = _digest(out)
        # Each trial trains other seeds, so every file of a new set differs from the old one's.
        seed = ["--seed", str(10 * (trial + 1))]
        process = subprocess.Popen(_pretrain(out, env, "--overwrite", *seed), env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        killed += _kill_after(process, random.uniform(0.6 * duration, 1.0 * duration))
        after = _digest(out) if out.is_dir() else {}
        mixed = not _one_complete_set(out) or (
            after != before and any(after[k] == before[k] for k in after))
        rerun = subprocess.run(_pretrain(out, env, "--overwrite"), env=env,
                               capture_output=True, text=True)
        left = _temporaries(out.parent)
        if not mixed and rerun.returncode == 0 and not left and _one_complete_set(out):
            ok += 1
        else:
            failures.append(f"trial {trial}: mixed {mixed}, rc {rerun.returncode}, {left}")
    return {"trials": args.trials, "killed while running": killed, "reruns ok": ok,
            "pretrain run (s)": round(duration, 1), "failures": failures}


def concurrent_load(args: argparse.Namespace, work: Path) -> dict:
    ok = 0
    failures = []
    for trial in range(args.trials):
        cache = work / f"l{trial}"
        pair = [_python(LOAD, args.dataset, args.root, env=_env(cache)) for _ in range(2)]
        results = [(p.wait(), p.stdout.read().strip(), p.stderr.read()) for p in pair]
        if all(rc == 0 for rc, _, _ in results) and results[0][1] == results[1][1]:
            ok += 1
        else:
            failures.append(f"trial {trial}: {[(rc, err[-200:]) for rc, _, err in results]}")
        shutil.rmtree(cache, ignore_errors=True)
    return {"trials": args.trials, "both succeeded": ok, "failures": failures}


def concurrent_pretrain(args: argparse.Namespace, work: Path) -> dict:
    env = _env(work / "cache")
    ok = refused = beside = 0
    failures = []
    for trial in range(args.trials):
        out = work / f"cp{trial}" / "run"
        pair = [subprocess.Popen(_pretrain(out, env), env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(p.wait(), p.stdout.read(), p.stderr.read()) for p in pair]
        codes = sorted(rc for rc, _, _ in results)
        refused += codes == [0, 2]
        siblings = [p for p in out.parent.iterdir() if p.name.startswith("run-")]
        beside += len(siblings)
        if _one_complete_set(out) and codes in ([0, 0], [0, 2]) and \
                all(_one_complete_set(p) for p in siblings) and not _temporaries(out.parent):
            ok += 1
        else:
            failures.append(f"trial {trial}: {codes}, {[e[-200:] for _, _, e in results]}")
    return {"trials": args.trials, "one complete set in --out": ok, "second refused": refused,
            "second kept beside": beside, "failures": failures}


def _set_files(folder: Path) -> dict:
    """What a set holds that a resume must reproduce: the tensors and the per-seed scores
    (without timings and the resume's own mark)."""
    import torch

    embeddings = torch.load(folder / "embeddings.pt")
    model = torch.load(folder / "model.pt")
    rows = json.loads((folder / "metrics.json").read_text())["per_seed"]
    skip = ("train_seconds", "resumed_from_epoch")
    return {"embeddings": embeddings, "model": model,
            "rows": [{k: v for k, v in row.items() if k not in skip} for row in rows]}


def _same_set(a: dict, b: dict) -> bool:
    import torch

    return torch.equal(a["embeddings"], b["embeddings"]) and a["rows"] == b["rows"] and \
        sorted(a["model"]) == sorted(b["model"]) and \
        all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def resume(args: argparse.Namespace, work: Path) -> dict:
    env = _env(work / "cache")
    # Long enough seeds that most kills land in training (not in start-up or the probe).
    every = ["--checkpoint-every", "3", "--epochs", "150", "--patience", "1000"]
    start = time.time()
    subprocess.run(_pretrain(work / "ref", env, *every), env=env, check=True,
                   capture_output=True)
    duration = time.time() - start
    reference = _set_files(work / "ref")
    ok = killed = early = resumed = from_checkpoint = 0
    failures = []
    for trial in range(args.trials):
        out = work / f"r{trial}" / "run"
        process = subprocess.Popen(_pretrain(out, env, *every), env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        killed += _kill_after(process, random.uniform(0.35 * duration, 0.95 * duration))
        rerun = subprocess.run([sys.executable, "-m", "graphinfo", "pretrain", "--out",
                                str(out), "--resume"], env=env, capture_output=True, text=True)
        if rerun.returncode == 2 and "no run in progress" in rerun.stderr:
            early += 1          # killed before its progress existed: nothing to continue
            rerun = subprocess.run(_pretrain(out, env, *every), env=env, capture_output=True,
                                   text=True)
        left = _temporaries(out.parent) + [p.name for p in out.parent.glob(".*.progress")]
        resumed += "resuming run" in rerun.stdout
        if (out / "metrics.json").is_file():
            rows = json.loads((out / "metrics.json").read_text())["per_seed"]
            from_checkpoint += any(row.get("resumed_from_epoch") for row in rows)
        same = rerun.returncode == 0 and _one_complete_set(out) and \
            _same_set(_set_files(out), reference)
        if same and not left:
            ok += 1
        else:
            failures.append(f"trial {trial}: rc {rerun.returncode}, same {same}, {left}, "
                            f"{rerun.stderr.strip()[-300:]}")
        shutil.rmtree(out.parent, ignore_errors=True)
    return {"trials": args.trials, "killed while running": killed,
            "killed before progress existed": early,
            "resumed with a finished seed kept": resumed,
            "resumed a seed from its checkpoint": from_checkpoint,
            "resumed to the uninterrupted set": ok,
            "pretrain run (s)": round(duration, 1), "failures": failures}


def _cora(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "graphinfo", "pretrain", "--no-plots", "--no-baselines",
            "--dataset", "cora", "--epochs", "5", "--out", str(out), *extra]


def full_disk(args: argparse.Namespace, work: Path) -> dict:
    env = {**_env(work / "cache"), "GRAPHINFO_DATA": args.root}
    mount = work / "disk"
    mount.mkdir()
    probe = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return {"skipped": f"cannot mount a tmpfs here ({probe.stderr.strip()[:80]})",
                "failures": []}
    try:
        out = mount / "run"
        subprocess.run(_cora(out), env=env, check=True, capture_output=True)
        size = sum(p.stat().st_size for p in out.iterdir())
        before = _digest(out)
        ok = 0
        failures = []
        fractions = [0.05 + 1.9 * i / max(1, args.trials - 1) for i in range(args.trials)]
        in_set = succeeded = 0
        for trial, fraction in enumerate(fractions):
            # The old set stays; what is left for the new one is a fraction of a set.
            limit = size + int(fraction * size) + 64 * 1024
            subprocess.run(["mount", "-o", f"remount,size={limit}", str(mount)], check=True)
            extra = ["--checkpoint-every", "0"] if trial % 2 else []
            run = subprocess.run(_cora(out, "--overwrite", *extra), env=env,
                                 capture_output=True, text=True)
            lines = run.stderr.strip().splitlines()
            one_line = len(lines) == 1 and lines[0].startswith("error: ")
            in_set += "seed 0:" in run.stdout     # trained: the disk filled in the set
            kept = out.is_dir() and _digest(out) == before
            left = _temporaries(mount)
            if run.returncode == 0 and _one_complete_set(out) and not left:
                succeeded += 1          # there was room for it after all
                before = _digest(out)
            elif run.returncode == 2 and one_line and kept and not left:
                ok += 1
            else:
                failures.append(f"size {limit}: rc {run.returncode}, kept {kept}, {left}, "
                                f"{run.stderr.strip()[-300:]}")
        subprocess.run(["mount", "-o", "remount,size=64m,ro", str(mount)], check=True)
        started = time.time()
        run = subprocess.run(_cora(mount / "other"), env=env, capture_output=True, text=True)
        read_only = {"rc": run.returncode, "error": run.stderr.strip(),
                     "seconds": round(time.time() - started, 1),
                     "before training": "seed 0:" not in run.stdout}
        if not (run.returncode == 2 and read_only["before training"]):
            failures.append(f"read-only: {read_only}")
        return {"trials": args.trials, "set (bytes)": size,
                "left the previous set, one error line, exit 2": ok,
                "failed while writing the set (after training)": in_set,
                "succeeded (room enough)": succeeded,
                "read-only --out": f"exit {read_only['rc']}, before training: "
                                   f"{read_only['before training']}, "
                                   f"`{read_only['error']}`",
                "failures": failures}
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


CHECKS = {"processing": processing, "checkpoint": checkpoint, "outputs": outputs,
          "concurrent-load": concurrent_load, "concurrent-pretrain": concurrent_pretrain,
          "resume": resume, "full-disk": full_disk}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.environ.get("GRAPHINFO_DATA", "../shared/data"))
    parser.add_argument("--dataset", default="pubmed")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--checks", nargs="+", default=list(CHECKS), choices=list(CHECKS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the table here (markdown)")
    args = parser.parse_args()
    random.seed(args.seed)
    results = {}
    with tempfile.TemporaryDirectory(prefix="graphinfo-crash-") as work:
        for name in args.checks:
            folder = Path(work) / name
            folder.mkdir()
            started = time.time()
            results[name] = CHECKS[name](args, folder)
            results[name]["seconds"] = round(time.time() - started)
            print(name, json.dumps(results[name]), flush=True)
    lines = ["# Kill and race tests (issue 16)", "",
             f"Command: `python benchmarks/crash_safety.py --root {args.root} --dataset "
             f"{args.dataset} --trials {args.trials} --seed {args.seed} --checks "
             f"{' '.join(args.checks)}`  ",
             f"Date: {time.strftime('%Y-%m-%d')}; `kill -9` at a random moment of each "
             f"trial; see the script's docstring for what each check asserts.", "",
             "| check | result |", "|---|---|"]
    for name, result in results.items():
        shown = {k: v for k, v in result.items() if k != "failures"}
        lines.append(f"| {name} | {', '.join(f'{k}: {v}' for k, v in shown.items())} |")
    failures = [f"- {name}: {f}" for name, r in results.items() for f in r["failures"]]
    lines += ["", "Failures:" if failures else "No failures.", *failures, ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
