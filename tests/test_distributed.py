"""Training in several processes (torchrun, gloo on this CPU), resuming, and the time limit.

The tolerance of the equivalence tests: 2 ranks x B/2 add the same per-window gradients as 1 rank x B
in another order (two partial sums, then gloo's all-reduce), so the weights may differ by float32
rounding only. Measured after 8 steps: 3e-8 at weights of about 0.2, 1-2 ulps. The bound, 1e-6, is
30 times that and 1000 times below one Adam step (lr 1e-3 moves a weight by about 1e-3), so a
wrongly weighted share (a mean of the two ranks' means when their shares differ in size, as every
batch of 7 here does) or a missing all-reduce fails it.
"""
from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner
from conftest import DATA
from segue.daemon.cli import cli
from segue.training import nade_training
from segue.training.runner import Runner, RunOptions
from segue.training.train import TrainConfig, load_checkpoint, train_melody

JSB = DATA / "polyphonic" / "jsb_chorales.json"
TOLERANCE = 1e-6
SIZES = ["--hidden", "24", "--length", "32", "--stride", "8", "--batch", "7", "--channel", "0"]
SMALL = [*SIZES, "--dropout", "0"]


def torchrun(nproc: int, *args, **popen) -> subprocess.Popen:
    """`segue` in `nproc` processes under torchrun (as `torchrun ... -m segue.daemon.cli`)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "segue.daemon.cli", *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **popen)


def finished(process: subprocess.Popen, timeout: float = 300) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return out


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def weights(path) -> dict:
    """The weights a run ended with (its resume record's; the best epoch's may be an earlier one)."""
    return torch.load(path, weights_only=True)["resume"]["model"]


def largest_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_two_ranks_with_half_batches_step_as_one_rank(krebs, tmp_path):
    one = tmp_path / "one.pt"
    train_melody([krebs], one, TrainConfig(channel=0, epochs=2, hidden=24, length=32, stride=8, batch=7, dropout=0),
                 progress=False)
    finished(torchrun(2, "train", "melody", krebs, "--out", tmp_path / "two.pt", "--epochs", 2, "-q", *SMALL))
    assert load_checkpoint(tmp_path / "two.pt").data["run"]["world_size"] == 2
    steps = load_checkpoint(one).history[-1]["steps"]
    assert steps >= 8
    assert largest_difference(weights(one), weights(tmp_path / "two.pt")) < TOLERANCE


def test_lstm_nade_two_ranks_step_as_one(tmp_path):
    config = nade_training.NADETrainConfig(hidden=12, recurrent=12, chunk=40, batch=7, epochs=1, dropout=0, transpose=3)
    nade_training.train_rnnnade([JSB], tmp_path / "one.pt", config, progress=False)
    finished(torchrun(2, "train", "rnnnade", JSB, "--out", tmp_path / "two.pt", "--hidden", 12, "--recurrent", 12,
                      "--chunk", 40, "--batch", 7, "--epochs", 1, "--dropout", 0, "--transpose", 3, "-q"))
    assert largest_difference(weights(tmp_path / "one.pt"), weights(tmp_path / "two.pt")) < TOLERANCE


def test_only_rank_zero_writes_and_the_same_seed_trains_the_same_in_two_processes(krebs, tmp_path):
    """Dropout on: each rank draws its own masks, from seed + rank, so a rerun draws them again."""
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        out = finished(torchrun(2, "train", "melody", krebs, "--out", "m.pt", "--epochs", 2, *SIZES,
                                cwd=tmp_path / run))
        assert out.count("wrote m.pt") == 1
        assert sorted(p.name for p in (tmp_path / run).iterdir()) == ["m.png", "m.pt"]
    a, b = weights(tmp_path / "a" / "m.pt"), weights(tmp_path / "b" / "m.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_time_limited_run_resumed_ends_as_an_uninterrupted_one(tmp_path):
    """Dropout and transposition on: the resumed run must redraw the epoch's augmentations, skip
    the batch already done and put the torch stream back, or the weights differ."""
    config = nade_training.NADETrainConfig(hidden=12, recurrent=12, chunk=40, batch=16, epochs=2, dropout=0.3, transpose=3)
    nade_training.train_rnnnade([JSB], tmp_path / "whole.pt", config, progress=False)
    # a limit every first step overruns: the run stops after one step, validates and checkpoints
    stopped = nade_training.train_rnnnade([JSB], tmp_path / "cut.pt", config,
                                      run=RunOptions(time_limit=1e-9, progress=False))
    assert [h.get("partial_batches") for h in stopped["history"]] == [1] and "valid_ll" in stopped["metrics"]
    resumed = nade_training.train_rnnnade([JSB], tmp_path / "cut.pt", config,
                                      run=RunOptions(resume=str(tmp_path / "cut.pt"), progress=False))
    assert torch.load(tmp_path / "cut.pt", weights_only=True)["resume"]["epoch"] == 3
    assert [h["epoch"] for h in resumed["history"]] == [1, 1, 2]
    whole, cut = weights(tmp_path / "whole.pt"), weights(tmp_path / "cut.pt")
    assert all(torch.equal(whole[k], cut[k]) for k in whole)


def test_a_killed_two_process_run_resumes_in_one_process(krebs, tmp_path):
    """SIGKILL to torchrun and its workers after the first checkpoint, as when a node dies."""
    epochs = 12
    whole = tmp_path / "whole.pt"
    train_melody([krebs], whole, TrainConfig(channel=0, epochs=epochs, hidden=24, length=32, stride=8, batch=7,
                                             dropout=0), progress=False)
    cut = tmp_path / "cut.pt"
    process = torchrun(2, "train", "melody", krebs, "--out", cut, "--epochs", epochs, "-q", *SMALL)
    deadline = time.monotonic() + 300
    while not cut.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in [process.pid, *descendants(process.pid)]:  # torchrun's workers are in sessions of their own
        os.kill(pid, signal.SIGKILL)
    process.communicate()
    saved = torch.load(cut, weights_only=True)["resume"]
    assert saved["world_size"] == 2 and saved["epoch"] <= epochs, "the run ended before it was killed"
    result = CliRunner().invoke(cli, ["train", "melody", str(krebs), "--out", str(cut), "--epochs", str(epochs),
                                      "--resume", str(cut), "-q", *SMALL])
    assert result.exit_code == 0, result.output
    record = load_checkpoint(cut)
    assert record.data["run"]["world_size"] == 1 and record.data["run"]["resumed_from"] == str(cut)
    assert [h["epoch"] for h in record.history] == list(range(1, epochs + 1))
    assert largest_difference(weights(whole), weights(cut)) < TOLERANCE


def test_resume_refuses_other_kinds_and_records_without_resume(small_nade, krebs, tmp_path):
    with pytest.raises(ValueError, match="a rnnnade checkpoint; --resume needs one of this run's kind"):
        train_melody([krebs], tmp_path / "m.pt", TrainConfig(channel=0, epochs=1),
                     run=RunOptions(resume=str(small_nade[0]), progress=False))
    with pytest.raises(ValueError, match="no such checkpoint"):
        train_melody([krebs], tmp_path / "m.pt", TrainConfig(channel=0, epochs=1),
                     run=RunOptions(resume=str(tmp_path / "none.pt"), progress=False))
    first = TrainConfig(channel=0, epochs=1, hidden=16, length=32)
    train_melody([krebs], tmp_path / "one.pt", first, progress=False)
    with pytest.raises(ValueError, match="--resume needs the run's own settings; changed: batch 30 -> 8"):
        train_melody([krebs], tmp_path / "one.pt", TrainConfig(channel=0, epochs=3, hidden=16, length=32, batch=8),
                     run=RunOptions(resume=str(tmp_path / "one.pt"), progress=False))
    more = train_melody([krebs], tmp_path / "one.pt", TrainConfig(channel=0, epochs=2, hidden=16, length=32),
                        run=RunOptions(resume=str(tmp_path / "one.pt"), progress=False))  # more epochs: fine
    assert [h["epoch"] for h in load_checkpoint(tmp_path / "one.pt").history] == [1, 2] and more["epochs"] == 2
    with pytest.raises(ValueError, match="give one of them"):
        nade_training.train_rnnnade([JSB], tmp_path / "n.pt", nade_training.NADETrainConfig(epochs=1), init=small_nade[0],
                                run=RunOptions(resume=str(small_nade[0]), progress=False))


@pytest.mark.parametrize("args, message", [
    (["--device", "cuda"], "torch sees no CUDA device"),
    (["--time-limit", "soon"], "not a duration"),
    (["--time-limit", "0"], "more than 0 s"),
    (["--nproc", "0"], "0 is not in the range"),
])
def test_bad_run_options_are_one_line_errors(krebs, tmp_path, args, message):
    if args[:2] == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = CliRunner().invoke(cli, ["train", "melody", str(krebs), "--out", str(tmp_path / "m.pt"), "--epochs", "1",
                                      "-q", *args])
    assert result.exit_code != 0 and message in result.output


def _bf16_lstm_runs() -> bool:
    """Whether this CPU's oneDNN has a bf16 LSTM (x86 without avx512_bf16, or with oneDNN held to
    AVX2, has none)."""
    lstm = torch.nn.LSTM(4, 4, batch_first=True)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, _ = lstm(torch.zeros(1, 3, 4))
        out.float().sum().backward()
    except RuntimeError:
        return False
    return True


def test_amp_is_refused_where_bf16_is_unsafe_and_trains_where_it_is(tmp_path, krebs):
    with pytest.raises(ValueError, match="--amp is not offered for this model: a frame's log-likelihood"):
        nade_training.train_rnnnade([JSB], tmp_path / "n.pt", nade_training.NADETrainConfig(epochs=1),
                                run=RunOptions(amp=True, progress=False))
    config = TrainConfig(channel=0, epochs=2, hidden=16, length=32)
    if _bf16_lstm_runs():
        result = train_melody([krebs], tmp_path / "m.pt", config, run=RunOptions(amp=True, progress=False))
        assert result["best"]["valid_nll"] < 12 and result["data"]["run"]["amp"] is True
    else:
        with pytest.raises(ValueError, match=r"--amp: bf16 training fails on this CPU \(.+\); drop --amp"):
            train_melody([krebs], tmp_path / "m.pt", config, run=RunOptions(amp=True, progress=False))
        assert not (tmp_path / "m.pt").exists()


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="ONEDNN_MAX_CPU_ISA=AVX2 is an x86 setting")
def test_amp_on_a_cpu_without_bf16_kernels_stops_before_any_work_with_one_line(krebs, tmp_path):
    out = tmp_path / "m.pt"
    command = [sys.executable, "-m", "segue.daemon.cli", "train", "melody", str(krebs), "--out", str(out),
               "--epochs", "1", "-q", "--amp", *SIZES]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"})
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("Error: --amp: bf16 training fails on this CPU") and "drop --amp" in lines[0]
    assert not out.exists()


def test_a_runner_shares_a_batch_in_contiguous_parts_that_cover_it(monkeypatch):
    parts = []
    for rank in range(3):
        monkeypatch.setenv("WORLD_SIZE", "3"), monkeypatch.setenv("RANK", str(rank))
        runner = Runner.__new__(Runner)
        runner.world, runner.rank = 3, rank
        parts.append(list(runner.share(list(range(7)))))
    assert parts == [[0, 1], [2, 3, 4], [5, 6]]


def test_info_describes_a_checkpoint(small_nade, tmp_path):
    result = CliRunner().invoke(cli, ["info", str(small_nade[0])])
    assert result.exit_code == 0, result.output
    assert "LSTM-NADE (segue train rnnnade) checkpoint; hidden" in result.output
    assert "best validation log-likelihood" in result.output and "1 process(es) on cpu" in result.output
    assert "resume: --resume" in result.output
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"PK\x03\x04" + bytes(100))
    result = CliRunner().invoke(cli, ["info", str(junk)])
    assert result.exit_code == 1 and "not a segue checkpoint (torch.load refused it" in result.output
    assert json.loads(torch.load(small_nade[0], weights_only=True)["data"])["run"]["world_size"] == 1


def test_two_nodes_meet_through_a_c10d_rendezvous(krebs, tmp_path):
    """The multi-node launch, both "nodes" on this machine: --nnodes 2, one process each."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
              "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "segue-test",
              "-m", "segue.daemon.cli", "train", "melody", str(krebs), "--out", "m.pt", "--epochs", "2", "-q", *SMALL]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [subprocess.Popen(launch, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outputs = [finished(node) for node in nodes]
    assert sum(out.count("wrote m.pt") for out in outputs) == 1
    record = load_checkpoint(tmp_path / "m.pt")
    assert record.data["run"]["world_size"] == 2 and record.data["run"]["backend"] == "gloo"
    one = tmp_path / "one.pt"
    train_melody([krebs], one, TrainConfig(channel=0, epochs=2, hidden=24, length=32, stride=8, batch=7, dropout=0),
                 progress=False)
    assert largest_difference(weights(one), weights(tmp_path / "m.pt")) < TOLERANCE


def test_sigterm_stops_a_run_with_a_validation_and_a_checkpoint(allegro, tmp_path):
    """What a scheduler sends before it preempts a job (torchrun passes it on to every worker)."""
    out = tmp_path / "m.pt"
    process = subprocess.Popen([sys.executable, "-m", "segue.daemon.cli", "train", "melody", str(allegro), "--out",
                                str(out), "--epochs", "1000", "--hidden", "32", "-q"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not out.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "stopped by SIGTERM" in stderr and "wrote" in stdout
    saved = torch.load(out, weights_only=True)
    assert saved["resume"]["epoch"] < 1000 and json.loads(saved["metrics"])["valid_nll"] > 0
