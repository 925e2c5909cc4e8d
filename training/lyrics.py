"""Character-level lyric models: RNN, GRU or LSTM over characters, embedded or one-hot.

The seeds' student report (SEEDS.md section 5) trained six variants on a pop-lyric corpus and
compared them by training perplexity. Here the same models train on a held-out split made of
contiguous blocks (segue.daemon.formats.text.split_blocks), so validation perplexity and bits per
character measure generalisation, not memory.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from segue.daemon.formats.text import (
    CharCodec,
    TextError,
    drop_titles,
    normalise,
    read_corpus,
    split_blocks,
)
from torch import nn

from . import checkpoints
from .loop import Loop, plot_history
from .runner import Runner, RunOptions

log = logging.getLogger(__name__)
CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
INPUTS = ("embedding", "onehot")
KIND = "lyrics"


@dataclass(frozen=True)
class CharConfig:
    vocab: int
    cell: str = "lstm"
    input: str = "embedding"
    embed: int = 256  # embedding width (embedding input only)
    hidden: int = 512
    layers: int = 2
    dropout: float = 0.5  # between layers and before the output layer

    def __post_init__(self):
        if self.cell not in CELLS or self.input not in INPUTS:
            raise ValueError(f"cell is one of {', '.join(CELLS)}; input one of {', '.join(INPUTS)}")
        if min(self.vocab - 1, self.embed, self.hidden, self.layers) < 1 or not 0 <= self.dropout < 1:
            raise ValueError("vocab must be >= 2; embed, hidden, layers >= 1; dropout in [0, 1)")

    @property
    def state(self) -> tuple[str, ...]:
        return ("h", "c") if self.cell == "lstm" else ("h",)


class CharRNN(nn.Module):
    def __init__(self, config: CharConfig):
        super().__init__()
        self.config = config
        width = config.embed if config.input == "embedding" else config.vocab
        self.embed = nn.Embedding(config.vocab, config.embed) if config.input == "embedding" else None
        self.rnn = CELLS[config.cell](width, config.hidden, config.layers, batch_first=True,
                                      dropout=config.dropout if config.layers > 1 else 0.0)
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.hidden, config.vocab)

    def inputs(self, ids: torch.Tensor) -> torch.Tensor:
        if self.embed is not None:
            return self.embed(ids)
        return nn.functional.one_hot(ids, self.config.vocab).float()

    def forward(self, ids: torch.Tensor, state=None):
        """(B, T) ids -> (B, T, V) logits of each next character, and the final state."""
        seq, state = self.rnn(self.inputs(ids), state)
        return self.out(self.drop(seq)), state

    def initial_state(self, batch: int):
        zeros = torch.zeros(self.config.layers, batch, self.config.hidden)
        return (zeros, zeros.clone()) if self.config.cell == "lstm" else zeros

    def to_checkpoint(self) -> dict:
        return {"config": asdict(self.config), "state": self.state_dict()}


@dataclass(frozen=True)
class LyricsTrainConfig:
    """The report's values are the defaults except `epochs`; `--epochs 300` is the report's run."""

    cell: str = "lstm"
    input: str = "embedding"
    embed: int = 256
    hidden: int = 512
    layers: int = 2
    dropout: float = 0.5
    length: int = 20  # characters per training sequence
    batch: int = 128
    lr: float = 1e-3
    clip: float = 1.0
    epochs: int = 50
    cap: int = 4000  # vocabulary size, UNK included
    newlines: str = "keep"  # "space": line breaks become spaces, as the report did
    titles: str = "keep"  # "drop": each block's first line is a title (the ci corpora's tune names), not a lyric
    block: int = 1000  # held-out split: blocks of this many characters ...
    every: int = 10  # ... every 10th of them is validation text
    valid_every: int = 1  # epochs between validation passes
    steps: int = 0  # stop after this many optimiser steps (0: no limit); for time-boxed runs
    seed: int = 0

    def __post_init__(self):
        CharConfig(2, self.cell, self.input, self.embed, self.hidden, self.layers, self.dropout)
        if min(self.length, self.batch, self.epochs, self.valid_every) < 1 or self.steps < 0:
            raise ValueError("length, batch, epochs and valid-every must be >= 1; steps >= 0")
        if self.titles not in ("keep", "drop"):
            raise ValueError("titles must be keep or drop")
        if not self.lr > 0 or self.clip < 0 or self.cap < 2:
            raise ValueError("lr must be > 0, clip >= 0, cap >= 2")



@dataclass
class Corpus:
    codec: CharCodec
    ids: np.ndarray  # the whole normalised corpus as ids
    train: list[tuple[int, int]]
    valid: list[tuple[int, int]]
    path: str

    @property
    def train_chars(self) -> int:
        return sum(b - a for a, b in self.train)

    @property
    def valid_chars(self) -> int:
        return sum(b - a for a, b in self.valid)


def load_corpus(path: str | Path, config: LyricsTrainConfig, codec: CharCodec | None = None) -> Corpus:
    """Read, normalise, split; the vocabulary comes from the training spans only (or is given)."""
    text = read_corpus(path)
    text = normalise(drop_titles(text) if config.titles == "drop" else text, config.newlines)
    if len(text) < 2 * (config.length + 1):
        raise TextError(f"{path}: {len(text)} characters, fewer than two training sequences of {config.length + 1}")
    train, valid = split_blocks(len(text), config.block, config.every)
    if codec is None:
        codec = CharCodec.build("".join(text[a:b] for a, b in train), config.cap, config.newlines)
    ids = codec.encode(text)  # text is normalised already, and normalise() is idempotent
    if sum(b - a for a, b in train) < config.length + 1:
        raise TextError(f"{path}: the training split is shorter than one sequence of {config.length + 1} characters")
    return Corpus(codec, ids, train, valid, str(path))


def windows(corpus: Corpus, length: int, rng: np.random.Generator) -> np.ndarray:
    """One epoch: non-overlapping (length + 1)-character windows of every training span, from a
    random offset, shuffled (the report's "random sampling"): (N, length + 1)."""
    rows = []
    for a, b in corpus.train:
        span = corpus.ids[a:b]
        if len(span) < length + 1:
            continue
        start = int(rng.integers(0, (len(span) - 1) % length + 1))
        n = (len(span) - 1 - start) // length
        starts = start + length * np.arange(n)
        rows.append(span[starts[:, None] + np.arange(length + 1)])
    out = np.concatenate(rows)
    return out[rng.permutation(len(out))]


@torch.no_grad()
def evaluate(model: CharRNN, corpus: Corpus, spans=None, group: int = 64, chunk: int = 200) -> dict:
    """Mean negative log-likelihood of each character given the ones before it in its span
    (state from zero at each span's start; its first character is not scored)."""
    model.eval()
    spans = corpus.valid if spans is None else spans
    total, count = 0.0, 0
    for g in range(0, len(spans), group):
        batch = spans[g:g + group]
        longest = max(b - a for a, b in batch)
        ids = np.zeros((len(batch), longest), np.int64)
        mask = np.zeros((len(batch), longest), bool)
        for row, (a, b) in enumerate(batch):
            ids[row, : b - a] = corpus.ids[a:b]
            mask[row, 1: b - a] = True
        device = next(model.parameters()).device
        ids_t, mask_t = torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)
        state = None
        for t in range(0, longest - 1, chunk):
            x = ids_t[:, t: t + chunk]
            y = ids_t[:, t + 1: t + chunk + 1]
            logits, state = model(x[:, : y.shape[1]], state)
            nll = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
            m = mask_t[:, t + 1: t + chunk + 1].reshape(-1)
            total += float(nll[m].sum())
            count += int(m.sum())
    model.train()
    nll = total / max(count, 1)
    return {"nll": nll, "perplexity": math.exp(nll), "bpc": nll / math.log(2), "chars": count}


def train_lyrics(path: str | Path, out: str | Path, config: LyricsTrainConfig = LyricsTrainConfig(),
                 progress: bool = True, command: str = "", init: str | Path | None = None,
                 run: RunOptions | None = None) -> dict:
    """Train, validate every `valid_every` epochs, keep the best-validation weights in `out`
    (rewritten after every epoch, with a resume record).

    `init`: go on from this checkpoint's weights and vocabulary (its shape wins over `config`'s;
    the optimiser, batch, dropout and the rest come from `config`). `run`: how (device, processes,
    time limit, resume).
    """
    run = run or RunOptions(progress=progress)
    if init is not None and run.resume is not None:
        raise ValueError("--init starts a new run from weights and --resume goes on with one: give one of them")
    runner = Runner(run, config.seed)
    rng = np.random.default_rng(config.seed)
    start = load(init) if init is not None else None
    if start is not None:
        m = start.model.config
        config = replace(config, cell=m.cell, input=m.input, embed=m.embed, hidden=m.hidden, layers=m.layers,
                         cap=m.vocab, newlines=start.codec.newlines, block=start.train.block, every=start.train.every)
    corpus = load_corpus(path, config, start.codec if start is not None else None)
    model = CharRNN(CharConfig(len(corpus.codec), config.cell, config.input, config.embed, config.hidden,
                               config.layers, config.dropout))
    if start is not None:
        model.load_state_dict(start.model.state_dict())
    runner.wrap(model, _loss)
    data = {"corpus": corpus.path, "characters": len(corpus.ids), "train_chars": corpus.train_chars,
            "valid_chars": corpus.valid_chars, "vocab": len(corpus.codec),
            "unk_rate": float((corpus.ids == 0).mean()), "command": command,
            "init": str(init) if init is not None else None, "run": runner.record}
    log.info("%s", data)

    def batches():
        rows = windows(corpus, config.length, rng)
        for i in range(0, len(rows), config.batch):
            yield rows[i: i + config.batch]

    def row(epoch, nll, figures):
        out = {"epoch": epoch, "train_nll": nll, "train_perplexity": math.exp(nll)}
        if figures:
            out |= {"valid_nll": figures["nll"], "valid_perplexity": figures["perplexity"], "valid_bpc": figures["bpc"]}
        return out | {"seconds": round(time.monotonic() - runner.started, 1)}

    loop = Loop(runner, model, torch.optim.Adam(model.parameters(), lr=config.lr), rng, KIND, config.epochs,
                config.clip, validate=lambda: evaluate(model, corpus), score=lambda f: f["nll"], best_key="valid_bpc",
                row=row, config=asdict(config), valid_every=config.valid_every, steps=config.steps,
                write=lambda state, best, history, resume: _save(out, model, state, corpus.codec, config, best,
                                                                 history, data, resume))
    best, history = loop.run(batches)
    runner.close()
    if runner.main:
        plot_history(history, Path(out).with_suffix(".png"), [("bits per character", [
            ("train (dropout on)", "train_nll", 1 / math.log(2)), ("validation", "valid_bpc", 1.0)])], Path(out).stem)
    return {"best": best, "history": history, "data": data}


def _loss(model: CharRNN, rows: np.ndarray):
    """Mean cross-entropy of each next character over a batch of windows (b, length + 1)."""
    batch = torch.from_numpy(rows).to(next(model.parameters()).device)
    logits, _ = model(batch[:, :-1])
    targets = batch[:, 1:]
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)), targets.numel()


def _save(out, model, best_state, codec, config, best, history, data, resume=None) -> None:
    checkpoints.save(out, KIND, model=asdict(model.config), state=best_state or model.state_dict(), train=asdict(config),
                     metrics=best, history=history, data=data, codec=codec.to_json(), resume=resume)


@dataclass
class LyricsCheckpoint:
    model: CharRNN
    codec: CharCodec
    train: LyricsTrainConfig
    metrics: dict
    history: list
    data: dict


def load(path: str | Path) -> LyricsCheckpoint:
    saved = checkpoints.read(path, KIND)
    model = CharRNN(CharConfig(**saved.model))
    model.load_state_dict(saved.state)
    model.eval()
    return LyricsCheckpoint(model, CharCodec.from_json(saved.codec), LyricsTrainConfig(**saved.train), saved.metrics,
                            saved.history, saved.data)
