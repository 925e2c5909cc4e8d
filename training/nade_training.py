"""Training and measuring the LSTM-NADE (exact likelihoods) on the benchmark splits or MIDI files.

    segue train rnnnade ../shared/data/polyphonic/jsb_chorales.json --out runs/nade.pt
    segue eval rnnnade runs/nade.pt ../shared/data/polyphonic/jsb_chorales.json --split test

The data, the chunks, the checkpoint and the frame accuracy are shared with the RNN-RBM
(training/polyphony.py).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from segue.daemon.formats import pianoroll
from segue.daemon.formats.pianoroll import expected_accuracy

from .loop import Loop
from .meter import QUIET, Meter
from .polyphony import chunk_batches, chunks, frames_mean, frequency_logits, load, load_record, read_data, save
from .runner import Runner, RunOptions

@dataclass(frozen=True)
class NADETrainConfig:
    hidden: int = 150
    recurrent: int = 150
    dropout: float = 0.3
    weight_decay: float = 0.0  # decoupled (AdamW); 0 is plain Adam
    chunk: int = 100
    batch: int = 4
    epochs: int = 100
    lr: float = 1e-3
    clip: float = 1.0
    beats: float = 1.0
    patience: int = 20  # epochs without a better validation log-likelihood before stopping
    transpose: int = 0  # each chunk shifted by a random -N..N semitones every epoch (0: as written)
    seed: int = 0

    def __post_init__(self):
        if min(self.hidden, self.recurrent, self.chunk, self.batch, self.epochs, self.patience) < 1:
            raise ValueError("hidden, recurrent, chunk, batch, epochs and patience must be >= 1")
        if not self.lr > 0 or self.clip < 0 or not self.beats > 0 or not 0 <= self.dropout < 1 \
                or self.weight_decay < 0 or self.transpose < 0:
            raise ValueError("lr and beats must be > 0, clip, weight decay and transpose >= 0, dropout in [0, 1)")


def train_rnnnade(paths, out: str | Path, config: NADETrainConfig = NADETrainConfig(), progress: bool = True,
                  command: str = "", init: str | Path | None = None, run: RunOptions | None = None) -> dict:
    """Train on exact negative log-likelihood; keep the best validation epoch; stop after `patience`.

    `init`: start from this checkpoint's weights (to train on; the optimiser starts afresh).
    `run`: how (device, processes, time limit, resume)."""
    from .nade import RNNNADE, NADEConfig

    run = run or RunOptions(progress=progress)
    if init is not None and run.resume is not None:
        raise ValueError("--init starts a new run from weights and --resume goes on with one: give one of them")
    runner = Runner(run, config.seed, amp_unsafe=NADE_AMP_UNSAFE)
    rng = np.random.default_rng(config.seed)
    data = read_data(paths, beats=config.beats)
    train, valid = chunks(data["train"], config.chunk), data["valid"] or data["train"][-1:]
    model = RNNNADE(NADEConfig(hidden=config.hidden, recurrent=config.recurrent, dropout=config.dropout))
    if init is not None:
        start, _ = load(init, kind="rnnnade")
        if (start.config.hidden, start.config.recurrent) != (config.hidden, config.recurrent):
            raise ValueError(f"{init}: its sizes ({start.config.hidden} hidden, {start.config.recurrent} recurrent) "
                             f"differ from this run's ({config.hidden}, {config.recurrent})")
        model.load_state_dict(start.state_dict())
    else:
        with torch.no_grad():  # start from each key's frequency: otherwise the first epochs only learn that
            model.to_bv.bias.copy_(frequency_logits(data["train"]))  # most keys are silent
    runner.wrap(model, lambda m, pieces: frames_mean(lambda v, mask: -(m.log_likelihood(v) * mask).sum() / mask.sum(),
                                                      runner, pieces))
    files = [str(p) for p in paths]

    def row(epoch, nll, figures):
        return {"epoch": epoch, "train_ll": -nll, **({"valid_ll": figures["ll"]} if figures else {}),
                "seconds": round(time.monotonic() - runner.started, 1)}

    loop = Loop(runner, model, torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay),
                rng, "rnnnade", config.epochs, config.clip, best_key="valid_ll", patience=config.patience,
                validate=lambda: evaluate_nade(model, valid, accuracy=False), score=lambda f: -f["ll"], row=row, config=asdict(config),
                write=lambda state, best, history, resume: save(Path(out), model, config, best, history, command, files,
                                                                state=state, run=runner.record, resume=resume))
    loop.run(lambda: chunk_batches(train, config, rng))
    runner.close()
    return load_record(out)


NADE_AMP_UNSAFE = ("a frame's log-likelihood sums 88 keys' terms, each from a hidden input accumulated key by "
                   "key; bf16's 8-bit mantissa loses that sum")


def nade_frames(model, rolls: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each frame's exact log-likelihood and its NADE biases, given the true past, for all `rolls`."""
    lls, bvs, bhs = [], [], []
    device = next(model.parameters()).device
    for roll in rolls:
        v = torch.from_numpy(roll.astype(np.float32))[None].to(device)
        bv, bh = model.biases(v)
        lls.append(model.log_likelihood(v, (bv, bh))[0].cpu())
        bvs.append(bv[0].cpu()), bhs.append(bh[0].cpu())
    return torch.cat(lls), torch.cat(bvs), torch.cat(bhs)


@torch.no_grad()
def evaluate_nade(model, rolls: list[np.ndarray], accuracy: bool = True, seed: int = 0,
                  tune: list[np.ndarray] | None = None, samples: int = 100, meter: Meter = QUIET) -> dict:
    """Exact log-likelihood per frame and frame accuracy (sampled key by key, and greedy), true past
    given; with `tune`, also the expected-accuracy decoding (`expected_accuracy`) on each key's
    probability estimated from `samples` frames (`RNNNADE.marginals`).

    `model` may be a list of LSTM-NADEs: their frame-level mixture with equal weights,
    p(v_t | past) = mean_k p_k(v_t | past), each component running its own LSTM over the true
    past. Its likelihood is exact too (a log-mean-exp per frame), a key's probability is the mean
    of the components', and a sample comes from a component drawn per frame; a mixture has no
    single greedy frame, so "accuracy_greedy" is left out.
    """
    models = list(model) if isinstance(model, (list, tuple)) else [model]
    for m in models:
        m.eval()
    frames = [nade_frames(m, rolls) for m in models]
    lls = torch.logsumexp(torch.stack([f[0] for f in frames]), 0) - math.log(len(models))
    scores = {"ll": float(lls.mean()), "frames": sum(len(r) for r in rolls)}
    if accuracy:
        scores["accuracy_repeat"] = pianoroll.repeat_accuracy(rolls)
        target = np.concatenate(rolls)
        generator = torch.Generator().manual_seed(seed)
        if len(models) == 1:
            sampled = models[0].predict(*frames[0][1:], generator=generator)
            scores["accuracy_greedy"] = pianoroll.frame_accuracy(models[0].predict(*frames[0][1:]).numpy(), target)
        else:
            pick = torch.randint(len(models), (len(target),), generator=generator)
            sampled = sum(m.predict(bv, bh, generator=generator) * (pick == k)[:, None].float()
                          for k, (m, (_, bv, bh)) in enumerate(zip(models, frames)))
        scores["accuracy"] = pianoroll.frame_accuracy(sampled.numpy(), target)
        if tune is not None:
            def mean(biases, what):
                frames_in = sum(len(bv) for _, bv, _ in biases)
                with meter.stage(f"key probabilities{what} ({samples} sampled frames each), frames", frames_in) as tick:
                    return sum(m.marginals(bv, bh, samples, generator, tick=tick)
                               for m, (_, bv, bh) in zip(models, biases)).numpy() / len(models)

            tune = (tune, mean([nade_frames(m, tune) for m in models], ", valid split"))
            scores.update(expected_accuracy(mean(frames, ""), target, tune))
    return scores
