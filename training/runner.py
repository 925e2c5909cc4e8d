"""How a training run is executed: on which device, in how many processes, for how long, from where.

The trainers say what is learned; a `Runner` runs their steps. Under `torchrun` (WORLD_SIZE > 1)
every process builds the same global batches from the same seed and keeps its own contiguous share
(`share`); DistributedDataParallel averages the gradients. Each share's mean loss is scaled by its
share of the global batch's units (events, frames, characters), so the averaged gradient is the
gradient of the global batch's mean, whatever the world size: 2 ranks x B/2 make the step that
1 rank x B makes, up to float32 summation order (tests/test_distributed.py).

Only rank 0 validates (its figures are broadcast to the others), writes checkpoints and plots, and
shows the progress bar. A checkpoint holds a `resume` record: weights, optimiser and schedule,
where in which epoch the run was, and every random state, so `--resume` continues a stopped run
as if it had not stopped, also with another world size (then each rank's torch stream is re-seeded).
"""
from __future__ import annotations

import copy
import datetime
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.distributed as dist

from . import checkpoints

log = logging.getLogger(__name__)
DEVICES = ("auto", "cpu", "cuda", "mps")
# A validation runs on rank 0 while the others wait in a collective: generous, as an RNN-RBM's AIS
# estimate on a large split takes many minutes (gloo's default is 30).
COLLECTIVE_TIMEOUT = datetime.timedelta(hours=3)


@dataclass(frozen=True)
class RunOptions:
    """How to run a training (not saved as part of what it learns; recorded in `Runner.record`)."""

    device: str = "cpu"
    amp: bool = False  # bf16 autocast, for the models whose record says it is safe
    time_limit: float = 0.0  # seconds of wall time; then stop, validate, checkpoint (0: none)
    resume: str | None = None  # a checkpoint of the same kind to continue
    progress: bool = True

    def __post_init__(self):
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}")
        if not (self.time_limit >= 0 and np.isfinite(self.time_limit)):
            raise ValueError("time limit must be a finite number of seconds >= 0")


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto`: CUDA, then MPS, then the CPU. An asked-for device that is absent is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _has_mps() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: torch sees no CUDA device (a CPU build of torch, or no driver)")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if name == "mps" and not _has_mps():
        raise ValueError("--device mps: torch sees no Metal device (MPS needs Apple silicon and macOS 12.3+)")
    return torch.device(name)


def _has_mps() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


class _Loss(torch.nn.Module):
    """A model and its loss as one module, so that DDP's forward (which arms the gradient averaging)
    runs the loss however the model computes it (`cd_loss`, `log_likelihood`, a forward pass)."""

    def __init__(self, model: torch.nn.Module, loss: Callable):
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, batch):
        return self.loss(self.model, batch)


class Runner:
    """One process of a training run. `amp_safe` is the trainer's answer to whether its model may
    train in bf16 (None: it may; a string: why not)."""

    def __init__(self, options: RunOptions, seed: int, amp_unsafe: str | None = None):
        self.options = options
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = pick_device(options.device, local)
        if options.amp:
            if amp_unsafe:
                raise ValueError(f"--amp is not offered for this model: {amp_unsafe}")
            if self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
                raise ValueError("--amp trains in bf16, which this CUDA device does not support")
        if self.world > 1 and not dist.is_initialized():
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo", timeout=COLLECTIVE_TIMEOUT)
        self.main = self.rank == 0
        self.seed = seed
        torch.manual_seed(seed + self.rank)  # rank 0 draws what a single process draws
        self.started = time.monotonic()
        self.train_seconds = 0.0
        self.examples = 0
        self.stopped = False  # the time limit was reached or SIGTERM came (on any rank)
        self.terminated = False
        self.net = None
        self._previous_sigterm = None

    @property
    def record(self) -> dict:
        """How the run was trained, for the checkpoint's record."""
        return {"world_size": self.world, "device": str(self.device.type), "amp": self.options.amp,
                "backend": dist.get_backend() if dist.is_initialized() else None, "torch": str(torch.__version__),
                "resumed_from": self.options.resume}

    def generator(self, seed: int) -> torch.Generator:
        """A torch generator on the run's device, its own stream on each rank."""
        return torch.Generator(device=self.device).manual_seed(seed + self.rank)

    def wrap(self, model: torch.nn.Module, loss: Callable, partial: bool = False) -> torch.nn.Module:
        """Move `model` to the device and arm `step` with `loss(model, local_batch) -> (mean, units)`,
        units the count the mean is over. `partial`: the loss uses only some of the model's tensors
        (the RNN-RBM's pretraining steps), which DDP must then look for at every step."""
        model.to(self.device)
        net = _Loss(model, loss)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(net, device_ids=[self.device] if self.device.type == "cuda" else None,
                                          find_unused_parameters=partial)
        self.net = net
        return model

    def share(self, batch: Sequence) -> Sequence:
        """This rank's contiguous part of a global batch (a list or an array; the parts differ in
        size by at most one)."""
        if self.world == 1:
            return batch
        bounds = np.linspace(0, len(batch), self.world + 1).round().astype(int)
        return batch[bounds[self.rank]:bounds[self.rank + 1]]

    def step(self, optimiser, batch: Sequence, clip: float) -> float:
        """One optimiser step on a global batch; returns the global batch's mean loss."""
        begun = time.monotonic()
        local = self.share(batch)
        empty = len(local) == 0
        with self._autocast():
            mean, units = self.net(batch[:1] if empty else local)  # a rank with no share still joins in
        units = 0.0 if empty else float(units)
        if self.world == 1:
            loss, value = mean, None
        else:
            over = float(self._over_time())
            totals = torch.tensor([units, units * float(mean.detach()), over], dtype=torch.float64)
            dist.all_reduce(totals)
            loss = mean * (units * self.world / float(totals[0]))  # DDP divides the gradient by world
            value = float(totals[1] / totals[0])
            self.stopped = self.stopped or bool(totals[2] > 0)
        optimiser.zero_grad()
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_([p for g in optimiser.param_groups for p in g["params"]], clip)
        optimiser.step()
        if self.world == 1:
            value = loss.item()
            self.stopped = self.stopped or self._over_time()
        self.examples += len(batch)
        self.train_seconds += time.monotonic() - begun
        return value

    def _over_time(self) -> bool:
        return self.terminated or (bool(self.options.time_limit) and
                                   time.monotonic() - self.started > self.options.time_limit)

    def watch_sigterm(self, on: bool = True) -> None:
        """While on, SIGTERM (a scheduler preempting the job; torchrun passes it on to every worker)
        stops the run as the time limit does: after the step in progress, with a validation and a
        checkpoint. Off puts the handler that was there back."""
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        if not on:
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
                self._previous_sigterm = None
            return

        def stop(signum, frame):
            log.warning("SIGTERM: stopping after this step, to validate and checkpoint")
            self.terminated = True

        self._previous_sigterm = signal.signal(signal.SIGTERM, stop)

    def check_amp(self, batch: Sequence) -> None:
        """With --amp, one forward and backward pass of the real model on this rank's share of
        `batch` under bf16 autocast, before any work: a CPU whose oneDNN has no bf16 kernel for a
        layer (x86 without avx512_bf16 has none for the LSTM) fails here, and the run stops with one
        line rather than at its first step. Refused rather than run in float32: a user who asked
        for bf16 asked for its speed, and a silent fallback would also record a run it was not.
        The trial leaves no trace: gradients are dropped and every torch random stream restored."""
        if not self.options.amp:
            return
        local = self.share(batch)
        local = local if len(local) else batch[:1]
        net = _bare(self.net)
        cpu_state = torch.get_rng_state()
        cuda_states = torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None
        try:
            with self._autocast():
                mean, _ = net(local)
            mean.float().backward()
        except RuntimeError as err:
            text = str(err).strip()
            reason = text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(err).__name__
            raise ValueError(f"--amp: bf16 training fails on this {self.device.type.upper()} ({reason}); "
                             f"drop --amp to train in float32") from None
        finally:
            for p in net.parameters():
                p.grad = None
            torch.set_rng_state(cpu_state)
            if cuda_states is not None:
                torch.cuda.set_rng_state_all(cuda_states)

    def _autocast(self):
        if not self.options.amp:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def once(self, work: Callable):
        """`work()` on rank 0 only; every rank gets its result (a validation's figures)."""
        if self.world == 1:
            return work()
        box = [work() if self.main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gathered(self, value):
        """Every rank's `value`, in rank order (a collective: every rank calls it)."""
        if self.world == 1:
            return [value]
        out = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    # -- resuming --------------------------------------------------------------------------------
    def snapshot(self, *, epoch: int, done: int, model, optimiser, schedule=None, rng_state: dict,
                 generators: Sequence[torch.Generator] = (), extra: dict | None = None) -> dict:
        """Everything `restore` needs to go on from batch `done` of `epoch` (done 0: its start), with
        `rng_state` the numpy generator's state at that epoch's start. A collective: every rank calls it."""
        streams = self.gathered([_cpu(torch.get_rng_state())] + [_cpu(g.get_state()) for g in generators])
        return {"epoch": epoch, "done": done, "world_size": self.world,
                "model": {k: v.detach().cpu().clone() for k, v in _bare(model).state_dict().items()},
                "optimiser": _to_cpu(copy.deepcopy(optimiser.state_dict())),
                "schedule": json.dumps(schedule.state_dict()) if schedule is not None else None,
                "rng": json.dumps(rng_state), "streams": streams, "extra": json.dumps(extra or {})}

    def restore(self, saved: dict, *, model, optimiser, schedule=None, rng: np.random.Generator,
                generators: Sequence[torch.Generator] = ()) -> tuple[int, int, dict]:
        """Put a `snapshot` back; returns (epoch, done, extra). With another world size than the
        snapshot's, each rank's torch streams start afresh from (seed, epoch, rank)."""
        model.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        if schedule is not None and saved.get("schedule"):
            schedule.load_state_dict(json.loads(saved["schedule"]))
        rng.bit_generator.state = json.loads(saved["rng"])
        if saved["world_size"] == self.world:
            states = saved["streams"][self.rank]
            torch.set_rng_state(states[0])
            for g, state in zip(generators, states[1:]):
                g.set_state(state.to(g.get_state().device))
        else:
            log.warning("resuming a %d-process run in %d processes: torch's random streams start afresh",
                        saved["world_size"], self.world)
            torch.manual_seed(self.seed + 1000 * saved["epoch"] + self.rank)
            for i, g in enumerate(generators):
                g.manual_seed(self.seed + 1000 * saved["epoch"] + 100 * (i + 1) + self.rank)
        return saved["epoch"], saved["done"], json.loads(saved["extra"])

    def resumed(self, kind: str) -> dict | None:
        """The resume record of `options.resume` (None without one), checked to be of `kind`."""
        if self.options.resume is None:
            return None
        path = self.options.resume
        saved = checkpoints.read(path)
        if saved.kind != kind:
            raise ValueError(f"{path}: a {saved.kind} checkpoint; --resume needs one of this run's kind ({kind})")
        if saved.resume is None:
            raise ValueError(f"{path}: holds no resume record (written before segue kept one)")
        return saved.resume

    def save(self, write: Callable[[], None]) -> None:
        """`write()` on rank 0 only (a checkpoint, a plot), the others waiting until it is done."""
        if self.main:
            write()
        if self.world > 1:
            dist.barrier()

    def bar(self, total: int, first: int = 1):
        """A progress callback `update(row, best)`: a bar on rank 0 (log lines without progress),
        showing the latest figures and the best so far with its epoch."""
        enabled = self.options.progress and self.main
        if not enabled:
            return (lambda row, best=None: log.info("%s", row)) if self.main else (lambda row, best=None: None)
        from tqdm import tqdm

        bar = tqdm(total=total, initial=first - 1, unit="epoch")

        def update(row: dict, best: tuple[float, int] | None = None):
            bar.update(1)
            shown = {k: round(v, 3) for k, v in row.items() if k in SHOWN and isinstance(v, (int, float))}
            if best is not None:
                shown["best"] = f"{best[0]:.3f}@{best[1]}"
            bar.set_postfix(shown)

        update.close = bar.close
        return update

    def close(self) -> None:
        """The end of a run that went well: every rank waits for the others, then leaves the group."""
        if self.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


SHOWN = ("train_nll", "valid_nll", "cd_gap", "train_ll", "valid_ll", "valid_acc", "valid_bpc", "valid_pitch_nll")


def _bare(model):
    return getattr(model, "module", model)


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().cpu().clone()


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


def rng_state(rng: np.random.Generator) -> dict:
    """A copy of a numpy generator's state (JSON-safe: PCG64's is ints and strings)."""
    return copy.deepcopy(rng.bit_generator.state)
