"""Lyric models (character RNN/GRU/LSTM) on onnxruntime: the model file, a stream, and sampling.

The graph is one step, (char int64 (B,), h [, c] float32 (layers, B, hidden)) -> (logits (B, V),
h_next [, c_next]); the vocabulary and its newline rule are in the metadata (segue.codec).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..formats.text import CharCodec, TextError, is_cjk, syllables
from .file import ModelFileError, kind_name, open_session, resolve_model, trained_in, trial_run
from .sampling import GumbelNoise, Sampling

KIND = "characters"
INPUT, OUTPUT = "char", "logits"
DEFAULT_LYRIC_MODEL = "songci.onnx"  # the shipped lyric model (docs/models/songci.md)


PRIME_CHARS = 4000  # characters of a prime read at most (its end)


class LyricModel:
    def __init__(self, path: str | Path | None = None, threads: int = 1):
        self.path = resolve_model(path, DEFAULT_LYRIC_MODEL)
        self.session, meta = open_session(self.path, threads)
        kind = meta.get("segue.kind")
        if kind != KIND:
            raise ModelFileError(f"{self.path}: {kind_name(kind)}, but this needs a lyric model")
        try:
            self.codec = CharCodec.from_json(meta["segue.codec"])
            self.state_shapes = {k: tuple(int(x) for x in v) for k, v in json.loads(meta["segue.state"]).items()}
            self.training = json.loads(meta.get("segue.training", "{}"))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            raise ModelFileError(f"{self.path}: broken segue metadata ({type(err).__name__}: {err})") from None
        inputs = {i.name for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        if inputs != {INPUT, *self.state_shapes} or outputs != {OUTPUT, *(f"{s}_next" for s in self.state_shapes)}:
            raise ModelFileError(f"{self.path}: graph inputs/outputs do not match a lyric model")
        self._outputs = [OUTPUT, *(f"{s}_next" for s in self.state_shapes)]
        trial_run(self.path, self._trial, {OUTPUT: (1, len(self.codec)), **{
            f"{k}_next": (layers, 1, hidden) for k, (layers, hidden) in self.state_shapes.items()}})

    def about(self) -> list[str]:
        """What `segue info` says of the file."""
        t = self.training
        cfg, m = t.get("model", {}), t.get("metrics") or {}
        return [f"{self.path}", f"  kind: characters ({cfg.get('cell', '?')}, {cfg.get('input', '?')} input, "
                f"{cfg.get('layers', '?')} x {cfg.get('hidden', '?')}); vocabulary {len(self.codec)} characters, "
                f"line breaks {'kept' if self.codec.newlines == 'keep' else 'as spaces'}",
                f"  trained on {t.get('data', {}).get('corpus', '?')}: validation "
                f"{m.get('valid_bpc', float('nan')):.3f} bits/char at epoch {m.get('epoch', '?')}",
                f"  trained by: {t.get('train_command') or '?'}", f"  exported by: {t.get('command') or '?'}",
                *trained_in(t.get("data", {}).get("run"))]

    def _trial(self) -> dict[str, np.ndarray]:
        logits, nxt = self.step(np.zeros(1, np.int64), self.initial_state(1))
        return {OUTPUT: logits, **{f"{k}_next": v for k, v in nxt.items()}}

    def initial_state(self, batch: int = 1) -> dict[str, np.ndarray]:
        return {k: np.zeros((layers, batch, hidden), np.float32) for k, (layers, hidden) in self.state_shapes.items()}

    def step(self, chars: np.ndarray, state: dict[str, np.ndarray]):
        logits, *nxt = self.session.run(self._outputs, {INPUT: np.asarray(chars, np.int64), **state})
        return logits, dict(zip(self.state_shapes, nxt))

    def stream(self) -> "LyricStream":
        return LyricStream(self)


@dataclass(frozen=True)
class LyricsConfig:
    sampling: Sampling = Sampling(top_k=5)  # the report's generation: the 5 likeliest characters, renormalised
    seed: int | None = None


class LyricStream:
    """One writer: feed text, then sample characters; the state keeps everything read and written."""

    def __init__(self, model: LyricModel):
        self.model = model
        self.state = model.initial_state(1)
        self.logits: np.ndarray | None = None
        self.codec = model.codec
        # A line ends with a line break, or with a space in a model trained with newlines="space".
        self.newline = self.codec.vocab.index("\n") if "\n" in self.codec.vocab else None
        self.line_end = " " if self.newline is None else "\n"

    def feed(self, text: str) -> None:
        """Step through `text` (its last PRIME_CHARS characters: a state that has read that many has
        forgotten the rest, and any prime then costs the same); characters outside the vocabulary
        enter as the unknown symbol, as in training. Text with no character the model knows is an
        error (it would say nothing)."""
        ids = self.codec.encode(text[-PRIME_CHARS:])
        if len(ids) and not ids.any():
            raise TextError(f"the prime {text[:40]!r} has no character this model knows")
        self._feed_ids(ids)

    def _feed_ids(self, ids) -> None:
        for i in ids:
            logits, self.state = self.model.step(np.array([i], np.int64), self.state)
            self.logits = logits[0]

    def start(self) -> None:
        """Begin without a prime: a line break ("a new line starts here"), else the first character."""
        self._feed_ids([self.newline if self.newline is not None else 1])

    def sample(self, sampling: Sampling, noise: GumbelNoise, banned=None) -> str:
        """One character (never UNK), stepped into the state."""
        if self.logits is None:
            self.start()
        ban = np.zeros(len(self.logits), bool)
        ban[0] = True
        if banned is not None:
            ban[banned] = True
        i = sampling.draw(self.logits, noise, banned=ban)
        self._feed_ids([i])
        return self.codec.vocab[i]

    def line_break(self) -> None:
        """End the current line in the model's state."""
        self._feed_ids(self.codec.encode(self.line_end))


def write(model: LyricModel, prime: str | None, config: LyricsConfig, *, chars: int | None = None,
          lines: int | None = None) -> tuple[str, float]:
    """Prime, then sample `chars` characters or `lines` lines; returns (text, seconds spent sampling).

    Lines need a model that kept line breaks; with a newline='space' model a line ends at a space.
    """
    if (chars is None) == (lines is None):
        raise ValueError("give either chars or lines")
    stream = model.stream()
    noise = GumbelNoise(config.seed)
    if prime:
        stream.feed(prime)
    end = stream.line_end
    out: list[str] = []
    done, started, limit = 0, time.perf_counter(), chars if chars is not None else 200 * lines
    while len(out) < limit:
        ch = stream.sample(config.sampling, noise)
        if lines is not None and ch == end:
            if not out or out[-1] == end:  # an empty line does not count
                continue
            done += 1
            if done == lines:
                break
        out.append(ch)
    return "".join(out), time.perf_counter() - started


def sung_line(stream: LyricStream, count: int, sampling: Sampling, noise: GumbelNoise, lang: str = "en_US") -> list[str]:
    """A line of exactly `count` syllables, sampled character by character: line breaks are not
    allowed until the count is reached, and the line is ended in the state afterwards."""
    if count < 1:
        return []
    text = ""
    for _ in range(40 * count + 40):  # alphabetic syllables take several characters; bounded anyway
        text += stream.sample(sampling, noise, banned=stream.newline)
        sung = syllables(text, lang)
        if len(sung) >= count and (not text[-1].isalpha() or is_cjk(text[-1])):
            stream.line_break()
            return sung[:count]
    stream.line_break()
    sung = syllables(text, lang)
    return (sung + ["la"] * count)[:count]



def karaoke(sung: list[str]) -> list[str]:
    """Lyric meta event texts after the MMA's RP-017: a word ends with a space, a syllable that
    continues its word ("beau-") has none, and the last syllable of the line ends with a carriage
    return. CJK characters run on without spaces, as such lyrics are displayed."""
    texts = []
    for s in sung:
        if s.endswith("-"):
            texts.append(s[:-1])
        else:
            texts.append(s if is_cjk(s[-1]) else s + " ")
    if texts:
        texts[-1] = texts[-1].rstrip(" ") + "\r"
    return texts


def phrases(onsets: list[float], gap: float = 0.75, longest: int = 12) -> list[list[float]]:
    """Onset times cut into sung lines: a new line after a rest of `gap` seconds between onsets, or
    after `longest` notes (a breath)."""
    out: list[list[float]] = []
    for t in sorted(onsets):
        if not out or t - out[-1][-1] >= gap or len(out[-1]) >= longest:
            out.append([t])
        else:
            out[-1].append(t)
    return out


class Lyricist:
    """One syllable per note: lines for the machine's phrases, from one lyric stream (so each line
    follows on from the last), shown and recorded as they are written."""

    def __init__(self, model: LyricModel, config: LyricsConfig = LyricsConfig(), lang: str = "en_US",
                 prime: str | None = None, show=None, recorder=None):
        self.stream, self.config, self.lang = model.stream(), config, lang
        self.noise = GumbelNoise(config.seed)
        self.show, self.recorder = show, recorder
        syllables("a", lang)  # an unknown language fails here, before anything is played
        if prime:
            self.stream.feed(prime)
        self.lines = 0

    def line(self, onsets: list[float], pitches: list[int] | None = None) -> list[tuple[float, str]]:
        """(time, lyric event text) for each onset: a line of exactly len(onsets) syllables. With a
        recorder, each syllable is recorded with its note (of `pitches`, when given) as it goes out."""
        if not onsets:
            return []
        sung = sung_line(self.stream, len(onsets), self.config.sampling, self.noise, self.lang)
        order = sorted(range(len(onsets)), key=lambda i: onsets[i])
        events = [(onsets[i], text) for i, text in zip(order, karaoke(sung))]
        self.lines += 1
        if self.recorder is not None:
            for i, (at, text) in zip(order, events):
                self.recorder.lyric(text, at=at, pitch=None if pitches is None else pitches[i])
        if self.show is not None:
            self.show("".join(text for _, text in events).rstrip("\r"))
        return events

    def song(self, onsets: list[float], gap: float = 0.75) -> list[tuple[float, str]]:
        """Lines for a whole file's notes, cut into phrases by rests."""
        return [event for phrase in phrases(onsets, gap) for event in self.line(phrase)]


def bits_per_char(model: LyricModel, ids: np.ndarray, spans: list[tuple[int, int]], group: int = 256) -> dict:
    """Each span's characters after its first, scored given the ones before them in the span
    (state from zero at the span's start), stepping spans side by side as a batch."""
    total, count = 0.0, 0
    for g in range(0, len(spans), group):
        batch = spans[g:g + group]
        longest = max(b - a for a, b in batch)
        chars = np.zeros((len(batch), longest), np.int64)
        length = np.array([b - a for a, b in batch])
        for row, (a, b) in enumerate(batch):
            chars[row, : b - a] = ids[a:b]
        state = model.initial_state(len(batch))
        for t in range(longest - 1):
            logits, state = model.step(chars[:, t], state)
            z = logits.astype(np.float64)
            top = z.max(-1)
            logp = z[np.arange(len(batch)), chars[:, t + 1]] - top - np.log(np.exp(z - top[:, None]).sum(-1))
            live = t + 1 < length
            total -= float(logp[live].sum())
            count += int(live.sum())
    nll = total / max(count, 1)
    return {"bpc": nll / np.log(2), "perplexity": float(np.exp(nll)), "chars": count}
