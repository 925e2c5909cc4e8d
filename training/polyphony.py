"""Training and measuring piano-roll models (the RNN-RBM) on the benchmark splits or MIDI files.

    segue train rnnrbm ../shared/data/polyphonic/jsb_chorales.json --out runs/jsb.pt
    segue eval rnnrbm runs/jsb.pt ../shared/data/polyphonic/jsb_chorales.json --split test

The paper's measures: log-likelihood per frame (nats; AIS for each frame's RBM partition
function) and frame accuracy TP / (TP + FP + FN).
"""
from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from segue.daemon.formats import pianoroll
from segue.daemon.formats.pianoroll import expected_accuracy, shifted

from . import checkpoints
from .loop import Loop
from .meter import QUIET, Meter
from .rnnrbm import RNNRBM, RBMConfig, log_partition_ais
from .runner import Runner, RunOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RBMTrainConfig:
    hidden: int = 150
    recurrent: int = 100
    k: int = 15
    chunk: int = 100  # frames per training sequence (the tutorial's 100)
    batch: int = 16  # sequences per step
    epochs: int = 100
    lr: float = 1e-3
    clip: float = 1.0
    beats: float = 1.0  # frame length in beats for MIDI inputs (JSON data: as stored)
    valid_every: int = 5  # epochs between validation estimates
    valid_runs: int = 10  # AIS runs during training (the report uses more)
    valid_betas: int = 200
    valid_frames: int = 5000  # validation pieces up to this many frames (AIS is the costly part)
    pretrain: int = 0  # epochs of the paper's pretraining: W, bv, bh as one RBM on all training frames
    pretrain_rnn: int = 0  # epochs of its second step: the RNN (Wvu, Wuu, bu, Wuv) as a frame predictor
    transpose: int = 0  # each chunk shifted by a random -N..N semitones every epoch (0: as written)
    seed: int = 0

    def __post_init__(self):
        if min(self.hidden, self.recurrent, self.k, self.chunk, self.batch, self.epochs) < 1:
            raise ValueError("hidden, recurrent, k, chunk, batch and epochs must be >= 1")
        if not self.lr > 0 or self.clip < 0 or not self.beats > 0 or min(self.pretrain, self.pretrain_rnn, self.transpose) < 0:
            raise ValueError("lr and beats must be > 0, clip, pretrain and transpose >= 0")


def read_data(paths: Sequence[str | Path], beats: float = 1.0, valid_fraction: float = 0.1) -> dict:
    """{split: [rolls]}: a benchmark JSON gives its own splits; MIDI files give train, and valid is
    the last `valid_fraction` of their frames (one file: its tail)."""
    data: dict[str, list[np.ndarray]] = {"train": [], "valid": [], "test": []}
    for path in paths:
        if str(path).lower().endswith(".json"):
            for split, rolls in pianoroll.load_json(path).items():
                data[split] += rolls
        else:
            roll = pianoroll.from_midi(path, beats=beats)
            cut = max(1, int(len(roll) * (1 - valid_fraction)))
            data["train"].append(roll[:cut])
            if cut < len(roll):
                data["valid"].append(roll[cut:])
    if not data["train"]:
        raise ValueError("no training pieces")
    return data


def chunks(rolls: list[np.ndarray], length: int) -> list[np.ndarray]:
    out = []
    for roll in rolls:
        for start in range(0, len(roll), length):
            piece = roll[start:start + length]
            if len(piece) >= 2:
                out.append(piece)
    return out


def batch_of(pieces: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded (B, T, 88) float frames and a (B, T) mask of the real ones."""
    steps = max(len(p) for p in pieces)
    v = torch.zeros(len(pieces), steps, pianoroll.KEYS)
    mask = torch.zeros(len(pieces), steps)
    for i, p in enumerate(pieces):
        v[i, :len(p)] = torch.from_numpy(p.astype(np.float32))
        mask[i, :len(p)] = 1
    return v, mask


def train_rnnrbm(paths, out: str | Path, config: RBMTrainConfig = RBMTrainConfig(), progress: bool = True,
                 command: str = "", init: str | Path | None = None, run: RunOptions | None = None) -> dict:
    """Train, keep the checkpoint with the best validation log-likelihood, return its record.

    `init`: start from this checkpoint's weights (to train on; the optimiser starts afresh).
    `run`: how (device, processes, time limit, `resume`: go on with a stopped run, pretraining done).
    """
    run = run or RunOptions(progress=progress)
    if init is not None and (config.pretrain or config.pretrain_rnn):
        raise ValueError("--pretrain and --pretrain-rnn start a model afresh; they cannot go with --init")
    if init is not None and run.resume is not None:
        raise ValueError("--init starts a new run from weights and --resume goes on with one: give one of them")
    runner = Runner(run, config.seed, amp_unsafe=AMP_UNSAFE)
    rng = np.random.default_rng(config.seed)
    generator = runner.generator(config.seed)
    data = read_data(paths, beats=config.beats)
    train = chunks(data["train"], config.chunk)
    valid, frames = [], 0
    for roll in data["valid"] or data["train"][-1:]:
        if frames >= config.valid_frames:
            break
        valid.append(roll)
        frames += len(roll)
    model = RNNRBM(RBMConfig(hidden=config.hidden, recurrent=config.recurrent, k=config.k)).to(runner.device)
    if init is not None:
        start, _ = load(init)
        if start.config != model.config:
            raise ValueError(f"{init}: its sizes {start.config} differ from this run's {model.config}")
        model.load_state_dict(start.state_dict())
    elif run.resume is None:  # a resumed run has its weights, pretrained or not, in its record
        if config.pretrain:
            pretrain_rbm(model, data["train"], config, generator, rng, runner)
        if config.pretrain_rnn:
            pretrain_rnn(model, train, valid, config, rng, runner)
    runner.wrap(model, lambda m, pieces: frames_mean(lambda v, mask: m.cd_loss(v, mask, generator=generator),
                                                      runner, pieces))
    files = [str(p) for p in paths]

    def row(epoch, gap, figures):
        out = {"epoch": epoch, "cd_gap": gap, "seconds": round(time.monotonic() - runner.started, 1)}
        return out | ({"valid_ll": figures["ll"], "valid_acc": figures["accuracy"]} if figures else {})

    loop = Loop(runner, model, torch.optim.Adam(model.parameters(), lr=config.lr), rng, "rnnrbm", config.epochs,
                config.clip, generators=[generator], valid_every=config.valid_every, best_key="valid_ll",
                validate=lambda: evaluate(_on_cpu(model), valid, runs=config.valid_runs, betas=config.valid_betas,
                                          seed=config.seed),
                score=lambda f: -f["ll"], row=row, config=asdict(config),
                write=lambda state, best, history, resume: save(Path(out), model, config, best, history, command, files,
                                                                state=state, run=runner.record, resume=resume))
    loop.run(lambda: chunk_batches(train, config, rng))
    runner.close()
    return load_record(out)


AMP_UNSAFE = ("its loss is a difference of free energies, sums over 88 keys and 150 hidden units whose terms "
              "cancel; bf16 keeps 8 bits of mantissa")


def chunk_batches(train: list[np.ndarray], config, rng):
    """One epoch's global batches: the chunks in a random order, `config.batch` at a time; with
    `config.transpose`, each chunk shifted by a random interval as its batch is made (`transposed`)."""
    order = rng.permutation(len(train))
    for i in range(0, len(order), config.batch):
        pieces = [train[j] for j in order[i:i + config.batch]]
        if config.transpose:
            pieces = [transposed(p, config.transpose, rng) for p in pieces]
        yield pieces


def frames_mean(loss, runner, pieces):
    """`loss(v, mask)` (a mean over real frames) on a list of rolls, and the frames it is over."""
    v, mask = batch_of(pieces)
    v, mask = v.to(runner.device), mask.to(runner.device)
    return loss(v, mask), float(mask.sum())


def _on_cpu(model):
    """`model` itself on the CPU, else a CPU copy (the AIS estimate draws from CPU generators)."""
    return model if next(model.parameters()).device.type == "cpu" else copy.deepcopy(model).cpu()


def transposed(roll: np.ndarray, most: int, rng) -> np.ndarray:
    """`roll` shifted by a uniform random number of semitones in -most..most, limited to the
    shifts that keep every sounding key on the keyboard (a silent roll is returned as it is)."""
    keys = np.flatnonzero(roll.any(0))
    if not len(keys):
        return roll
    low, high = max(-most, -int(keys[0])), min(most, roll.shape[1] - 1 - int(keys[-1]))
    return shifted(roll, int(rng.integers(low, high + 1)))


def pretrain_rbm(model: RNNRBM, rolls: list[np.ndarray], config: RBMTrainConfig, generator, rng,
                 runner: Runner | None = None, frames_per_step: int = 100) -> list[dict]:
    """The paper's initialisation, first step: W, bv and bh trained as a single RBM on every
    training frame (CD-k, frames shuffled, no recurrence), before the RNN-RBM is trained as a whole.
    Returns the history (the CD gap per epoch)."""
    runner = runner or Runner(RunOptions(progress=False), config.seed)
    frames = torch.from_numpy(np.concatenate(rolls).astype(np.float32)).to(runner.device)
    runner.wrap(model, lambda m, v: (m.rbm_loss(v, generator=generator), len(v)), partial=True)

    def batches():
        order = torch.from_numpy(rng.permutation(len(frames))).to(runner.device)
        return [frames[order[i:i + frames_per_step]] for i in range(0, len(frames), frames_per_step)]

    def said(row, _):
        log.info("RBM pretraining epoch %d of %d: CD gap %.3f", row["epoch"], config.pretrain, row["cd_gap"])

    loop = Loop(runner, model, torch.optim.Adam([model.W, model.bv, model.bh], lr=config.lr), rng, None,
                config.pretrain, config.clip, validate=None, score=lambda f: 0.0, best_key="cd_gap",
                row=lambda epoch, gap, _: {"epoch": epoch, "cd_gap": gap}, write=None, on_row=said)
    return loop.run(batches)[1]


class FramePredictor(torch.nn.Module):
    """The paper's "RNN" row and the second step of its initialisation: the RNN-RBM's own
    recurrence (u0, Wvu, Wuu, bu) with independent logistic outputs, logit v(t) = b + Wuv u(t-1),
    so that its exact log-likelihood is a sum of cross-entropies. It trains the RNN-RBM's
    parameters in place; only the output bias b is its own."""

    def __init__(self, model: RNNRBM, rolls: list[np.ndarray]):
        super().__init__()
        self.model = model
        self.b = torch.nn.Parameter(frequency_logits(rolls))

    def log_likelihood(self, v: torch.Tensor) -> torch.Tensor:
        logits = self.b + self.model.run(v) @ self.model.Wuv
        return -torch.nn.functional.binary_cross_entropy_with_logits(logits, v, reduction="none").sum(-1)

    def parameters(self, recurse: bool = True):
        m = self.model
        return iter([m.u0, m.Wvu, m.Wuu, m.bu, m.Wuv, self.b])


def pretrain_rnn(model: RNNRBM, train: list[np.ndarray], valid: list[np.ndarray], config: RBMTrainConfig,
                 rng, runner: Runner | None = None) -> list[float]:
    """The paper's initialisation, second step: the recurrence trained as a next-frame predictor
    (`FramePredictor`, exact cross-entropy, Adam) on the training chunks for `config.pretrain_rnn`
    epochs. Returns the validation log-likelihood per frame after each epoch.

    The recurrence first gets torch.nn.RNN's initial scale, U(+-1/sqrt(units)): from the
    tutorial's 1e-4 the predictor would spend its first epochs escaping a saddle."""
    runner = runner or Runner(RunOptions(progress=False), config.seed)
    bound = 1 / math.sqrt(model.config.recurrent)
    with torch.no_grad():
        for weight in (model.Wvu, model.Wuu, model.Wuv):
            weight.uniform_(-bound, bound)
    predictor = FramePredictor(model, train).to(runner.device)
    runner.wrap(predictor, lambda p, pieces: frames_mean(
        lambda v, mask: -(p.log_likelihood(v) * mask).sum() / mask.sum(), runner, pieces), partial=True)

    def validate():
        with torch.no_grad():
            lls = [predictor.log_likelihood(torch.from_numpy(r.astype(np.float32))[None].to(runner.device))[0]
                   for r in valid]
        return {"ll": float(torch.cat(lls).mean())}

    def said(row, _):
        log.info("RNN pretraining epoch %d of %d: train %.3f, validation %.3f nats/frame", row["epoch"],
                 config.pretrain_rnn, row["train_ll"], row["valid_ll"])

    loop = Loop(runner, predictor, torch.optim.Adam(predictor.parameters(), lr=config.lr), rng, None,
                config.pretrain_rnn, config.clip, validate=validate, score=lambda f: -f["ll"], best_key="valid_ll",
                row=lambda epoch, nll, f: {"epoch": epoch, "train_ll": -nll, "valid_ll": f["ll"]}, write=None,
                on_row=said)
    return [row["valid_ll"] for row in loop.run(lambda: chunk_batches(train, config, rng))[1]]


def save(out: Path, model, config, metrics: dict | None, history: list, command: str, files: list[str],
         state: dict | None = None, run: dict | None = None, resume: dict | None = None) -> None:
    """`model`'s checkpoint with the weights `state` (the best validated; the current ones before any
    validation), its record and the run's resume record; written whole or not at all."""
    own = model.to_checkpoint()
    checkpoints.save(out, own["kind"], model=own["config"], state=own["state"] if state is None else state,
                     train=asdict(config), metrics=metrics, history=history,
                     data={"files": files, "command": command, "run": run}, resume=resume)


def load(path: str | Path, kind: str = "rnnrbm"):
    """(model, record) of a piano-roll checkpoint of `kind` ("rnnrbm" or "rnnnade")."""
    saved = checkpoints.read(path, kind)
    if kind == "rnnnade":
        from .nade import RNNNADE as family
    else:
        family = RNNRBM
    return family.from_checkpoint({"config": saved.model, "state": saved.state}), load_record(path, saved)


def load_record(path, saved: "checkpoints.Saved | None" = None) -> dict:
    """What a piano-roll run recorded: its settings (config), figures, history, command, files and run."""
    saved = saved or checkpoints.read(path)
    return {"config": saved.train, "metrics": saved.metrics, "history": saved.history, **saved.data}


def rbm_frames(model: RNNRBM, rolls: list[np.ndarray]) -> tuple[torch.Tensor, ...]:
    """The frames of `rolls` (N, 88), each frame's RBM biases given the true past, and the frame before it."""
    frames, bvs, bhs, previous = [], [], [], []
    for roll in rolls:
        v = torch.from_numpy(roll.astype(np.float32))[None]
        bv, bh = model.biases(model.run(v))
        frames.append(v[0]), bvs.append(bv[0]), bhs.append(bh[0])
        previous.append(torch.cat([torch.zeros_like(v[0, :1]), v[0, :-1]]))
    return tuple(map(torch.cat, (frames, bvs, bhs, previous)))


@torch.no_grad()
def evaluate(model: RNNRBM, rolls: list[np.ndarray], runs: int = 100, betas: int = 1000, gibbs: int = 25,
             seed: int = 0, chains: int = 100_000, tune: list[np.ndarray] | None = None,
             chain: dict | None = None, meter: Meter = QUIET) -> dict:
    """Log-likelihood per frame (AIS) and frame accuracy, each frame given the true past.

    Accuracy, TP/(TP+FP+FN) summed over all frames, for two predictions of each frame:
    "accuracy": a sample from its conditional RBM after `gibbs` Gibbs steps from zeros (how
    the model generates); "accuracy_mean_field": `gibbs` mean-field updates from zeros,
    thresholded at 0.5 (deterministic: the model's single most confident guess). With `tune`
    (other pieces, e.g. the validation split), also "accuracy_expected": the keys whose
    probability (`RNNRBM.marginals`, chains from the previous frame) is above the threshold
    that scores best on `tune` (`expected_accuracy`); `chain` (keyword arguments of
    `RNNRBM.marginals`: steps, keep, temperatures, lowest) sets how they are estimated.
    """
    model.eval()
    chain = {"steps": gibbs, **(chain or {})}
    generator = torch.Generator().manual_seed(seed)
    v, bv, bh, previous = rbm_frames(model, rolls)
    step = max(1, chains // runs)  # frames per AIS batch: `chains` Markov chains at a time
    with meter.stage(f"AIS log-partition ({runs} runs x {betas} temperatures), frames", len(v)) as tick:
        log_z = []
        for i in range(0, len(v), step):
            log_z.append(log_partition_ais(model.W, bv[i:i + step], bh[i:i + step], runs=runs, betas=betas,
                                           generator=generator))
            tick(len(log_z[-1]))
        log_z = torch.cat(log_z)
    ll = -model.free_energy(v, bv, bh) - log_z
    predicted = model.gibbs(torch.zeros_like(v), bv, bh, gibbs, generator=generator)
    mean = torch.zeros_like(v)
    for _ in range(gibbs):
        mean = torch.sigmoid(torch.sigmoid(mean @ model.W + bh) @ model.W.T + bv)
    if tune is not None:
        tune_v, tune_bv, tune_bh, tune_previous = rbm_frames(model, tune)
        with meter.stage("key probabilities, valid split (chain steps)", chain["steps"]) as tick:
            tune = (tune, model.marginals(tune_previous, tune_bv, tune_bh, generator=generator, tick=tick,
                                          **chain).numpy())
    marginals = None
    if tune:
        with meter.stage("key probabilities (chain steps)", chain["steps"]) as tick:
            marginals = model.marginals(previous, bv, bh, generator=generator, tick=tick, **chain).numpy()
    return {"ll": float(ll.mean()), "accuracy": pianoroll.frame_accuracy(predicted.numpy(), v.numpy()),
            **expected_accuracy(marginals, v.numpy(), tune),
            "accuracy_mean_field": pianoroll.frame_accuracy((mean > 0.5).numpy(), v.numpy()),
            "accuracy_repeat": pianoroll.repeat_accuracy(rolls),
            "frames": len(v), "runs": runs, "betas": betas}


def frequency_logits(rolls: list[np.ndarray]) -> torch.Tensor:
    """log-odds of each key sounding in a frame of `rolls`."""
    rate = np.concatenate(rolls).mean(0).clip(1e-4, 1 - 1e-4)
    return torch.from_numpy(np.log(rate / (1 - rate)).astype(np.float32))
