"""The accompanist's chord model: the melody heard so far -> the chord of the coming beat.

Online, as ReaLchords plays: at each beat the model has heard the melody up to that beat (not the
beat's own notes) and the chords it chose, and names the chord for the beat about to start, so a
chord change is played on its beat, not a beat late. One GRU step per beat:

    in:  the melody of the beat before (14 numbers, daemon/formats/chords.py), the chord it played
         then (an embedding of 181 classes), where the coming beat falls in the bar (6 slots)
    out: logits over the 181 chord classes for the coming beat

Trained on POP909's train split (`segue data pop909`) in windows of WINDOW beats, each window
transposed to a random key (the model hears every song in all twelve); validated on the valid split
as it stands: negative log-likelihood per beat (nats) and accuracy. Baseline beside it
(`markov_baseline`): a chord bigram by bar position with the previous beat's melody scored by a
naive-Bayes pitch-class model relative to the candidate's root, fitted on the same train split.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from segue.daemon.formats.chords import CLASSES, MELODY_FEATURES, chord_class, melody_features, transpose

from . import pop909

SLOTS = 6  # beats in a bar the position encodes (POP909: 4, or 6)


@dataclass(frozen=True)
class ChordConfig:
    hidden: int = 160
    embed: int = 32
    window: int = 64
    batch: int = 48
    lr: float = 3e-3
    epochs: int = 60
    dropout: float = 0.2
    seed: int = 0
    noise: float = 0.4  # the share of beats whose "chord before" is replaced by a random one in training
    previous: bool = False  # hear the chord it played the beat before (the experiment's variant; see the module)


def song_arrays(song: pop909.Song, notes: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(melody features per beat, chord class per beat, bar slot per beat) of one song."""
    beats = len(song.beats)
    melody = notes["part"] == pop909.PARTS.index("MELODY")
    features = melody_features(notes["onset"][melody], notes["end"][melody], notes["pitch"][melody], beats)
    classes = np.zeros(beats, np.int64)
    for start, end, label in song.chords:
        chord = pop909.parse_chord(label)
        first, last = max(0, int(math.floor(start + 0.5))), min(beats, int(math.floor(end + 0.5)))
        classes[first:last] = chord_class(chord.root, chord.quality)
    first_down = song.downbeats[0] if song.downbeats else 0
    bar = song.beats_per_bar
    slots = np.minimum((np.arange(beats) - first_down) % bar, SLOTS - 1)
    return features, classes, slots


def inputs(features: np.ndarray, classes: np.ndarray, slots: np.ndarray):
    """The model's inputs for predicting each beat's chord: the beat before's melody and chord
    (zeros and no chord before the first), the beat's own bar slot."""
    before = np.vstack([np.zeros((1, MELODY_FEATURES), np.float32), features[:-1]])
    previous = np.concatenate([[0], classes[:-1]])
    return before, previous, slots


class ChordModel(torch.nn.Module):
    def __init__(self, config: ChordConfig):
        super().__init__()
        self.config = config
        self.chord = torch.nn.Embedding(CLASSES, config.embed) if config.previous else None
        self.slot = torch.nn.Embedding(SLOTS, 8)
        width = MELODY_FEATURES + 8 + (config.embed if config.previous else 0)
        self.gru = torch.nn.GRU(width, config.hidden, batch_first=True)
        self.drop = torch.nn.Dropout(config.dropout)
        self.out = torch.nn.Linear(config.hidden, CLASSES)

    def forward(self, melody, previous, slot, state=None):
        parts = [melody, self.slot(slot)] + ([self.chord(previous)] if self.chord is not None else [])
        x = torch.cat(parts, dim=-1)
        h, state = self.gru(x, state)
        return self.out(self.drop(h)), state


def load_split(corpus, split):
    return [song_arrays(song, notes) for song, notes in pop909.load(corpus, split)]


def windows(songs, config: ChordConfig, rng: np.random.Generator):
    """Random windows of WINDOW beats, each in a random key: batches of (melody, previous, slot, target)."""
    picks = []
    for i, (features, classes, slots) in enumerate(songs):
        if len(classes) < config.window:
            continue
        for start in range(0, len(classes) - config.window + 1, config.window // 2):
            picks.append((i, start))
    order = rng.permutation(len(picks))
    for b in range(0, len(order) - config.batch + 1, config.batch):
        rows = []
        for j in order[b:b + config.batch]:
            i, start = picks[j]
            features, classes, slots = songs[i]
            start = min(start + int(rng.integers(0, config.window // 2)), max(0, len(classes) - config.window))
            part = slice(start, start + config.window)
            k = int(rng.integers(12))
            c, f = transpose(classes[part], features[part], k)
            before, previous, slot = inputs(f, c, slots[part])
            if start > 0:  # the window's first beat hears the beat before it
                pc, pf = transpose(classes[start - 1:start], features[start - 1:start], k)
                before[0], previous[0] = pf[0], pc[0]
            # Played live, the chord before is the model's own, right or wrong: trained on the true
            # one alone it trusts it over the melody and, fed its own, never leaves its first chord.
            noisy = rng.random(len(previous)) < config.noise
            previous = np.where(noisy, rng.integers(1, CLASSES, len(previous)), previous)
            rows.append((before, previous, slot, c))
        yield tuple(torch.as_tensor(np.stack([r[n] for r in rows])) for n in range(4))


def evaluate(model: ChordModel, songs) -> dict:
    """NLL per beat (nats) and accuracy over whole songs, as they stand, state carried through."""
    model.eval()
    nll, hits, count = 0.0, 0, 0
    with torch.no_grad():
        for features, classes, slots in songs:
            before, previous, slot = inputs(features, classes, slots)
            logits, _ = model(torch.as_tensor(before)[None], torch.as_tensor(previous)[None], torch.as_tensor(slot)[None])
            target = torch.as_tensor(classes)[None]
            nll += float(torch.nn.functional.cross_entropy(logits[0], target[0], reduction="sum"))
            hits += int((logits[0].argmax(-1) == target[0]).sum())
            count += len(classes)
    model.train()
    return {"nll": nll / count, "accuracy": hits / count, "beats": count}


def follow(model: ChordModel, features, slots, start: int = 0) -> list[int]:
    """The chords the model plays over a song, each from the melody before its beat and its own
    chords before (greedy; never "no chord": an accompanist plays)."""
    chosen, state, previous = [], None, 0
    before = np.zeros(MELODY_FEATURES, np.float32)
    with torch.no_grad():
        for b in range(len(slots)):
            logits, state = model(torch.as_tensor(before)[None, None], torch.as_tensor([[previous]]),
                                  torch.as_tensor([[int(slots[b])]]), state)
            scores = logits[0, -1].clone()
            scores[0] = -float("inf")
            previous = int(scores.argmax())
            chosen.append(previous)
            before = features[b]
    return chosen


def evaluate_free(model: ChordModel, songs) -> float:
    """Accuracy of the chords the model plays on its own (fed back), on the beats that have a chord."""
    model.eval()
    hits = count = 0
    for features, classes, slots in songs:
        chosen = np.array(follow(model, features, slots))
        sure = classes > 0
        hits += int((chosen[sure] == classes[sure]).sum())
        count += int(sure.sum())
    model.train()
    return hits / max(count, 1)


def train_chords(corpus: str | Path, out: str | Path, config: ChordConfig = ChordConfig(), log=print,
                 time_limit: float | None = None, command: str = "") -> dict:
    """Train on the corpus's train split, validate each epoch, keep the best (valid NLL) in `out`
    (training/checkpoints.py's format, kind "chords"), with the texture patterns of the train
    split's piano parts (`extract_patterns`) in its data: the checkpoint is all the exporter needs."""
    from . import checkpoints

    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    train, valid = load_split(corpus, "train"), load_split(corpus, "valid")
    patterns = [{**p.to_dict(), "count": n} for p, n in extract_patterns(corpus, "train")]
    model = ChordModel(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=config.epochs)
    best, started, history = None, time.perf_counter(), []
    data = {"corpus": str(corpus), "command": command, "songs": {"train": len(train), "valid": len(valid)},
            "patterns": patterns}
    for epoch in range(1, config.epochs + 1):
        losses = []
        for melody, previous, slot, target in windows(train, config, rng):
            logits, _ = model(melody, previous, slot)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, CLASSES), target.reshape(-1))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            losses.append(float(loss.detach()))
        schedule.step()
        figures = evaluate(model, valid)
        if config.previous:  # fed its own chords, it plays differently from how it is scored
            figures["played"] = evaluate_free(model, valid[:20])
        row = {"epoch": epoch, "train": float(np.mean(losses)), **figures, "seconds": time.perf_counter() - started}
        history.append(row)
        log(f"epoch {epoch}: train {row['train']:.3f}, valid nll {figures['nll']:.3f} per beat, "
            f"accuracy {figures['accuracy']:.3f}" + (f", played alone {figures['played']:.3f}" if "played" in figures
                                                     else "") + f" ({row['seconds']:.0f} s)")
        if best is None or figures["nll"] < best["nll"]:
            best = row
            checkpoints.save(out, "chords", model=asdict(config), state=model.state_dict(),
                             train={"epochs": config.epochs}, metrics=best, history=history, data=data)
        if time_limit and time.perf_counter() - started > time_limit:
            break
    return {"best": best, "history": history}


def load_model(path: str | Path):
    """A chord-model checkpoint: the model (eval mode) and the checkpoint as read (its data: the
    corpus and the texture patterns; its settings and figures)."""
    from . import checkpoints

    saved = checkpoints.read(path, "chords")
    model = ChordModel(ChordConfig(**saved.model))
    model.load_state_dict(saved.state)
    return model.eval(), saved


def _baseline_tables(corpus: str | Path, smoothing: float, melody_before: bool):
    """The counts both baselines are made of, on the train split in all 12 keys: P(chord | chord
    before, bar slot) as (SLOTS, CLASSES, CLASSES), and the log-probability of each pitch class
    above a chord's root sounding in a beat, per quality (no chord: the 16th), as (CLASSES, 12): of
    the beat before's melody (`melody_before`), or of the beat's own. With each chord's root
    (0 for no chord), for scoring a beat's melody relative to it."""
    from segue.daemon.formats.chords import chord_of

    roots = np.array([max(chord_of(c)[0], 0) for c in range(CLASSES)])
    quality = np.array([(c - 1) % 15 if c else 15 for c in range(CLASSES)])
    counts = np.full((SLOTS, CLASSES, CLASSES), smoothing)
    emit, emitted = np.full((16, 12), smoothing), np.full(16, smoothing * 12)
    for features, classes, slots in load_split(corpus, "train"):
        for k in range(12):
            c, f = transpose(classes, features, k)
            before, previous, slot = inputs(f, c, slots)
            np.add.at(counts, (slot, previous, c), 1.0)
            melody = before if melody_before else f
            for q in range(16):
                rows = quality[c] == q
                if rows.any():
                    idx = (np.arange(12)[None, :] + roots[c[rows]][:, None]) % 12
                    emit[q] += np.take_along_axis(melody[rows, :12], idx, axis=1).sum(axis=0)
                    emitted[q] += melody[rows, :12].sum()
    moves = counts / counts.sum(axis=2, keepdims=True)
    return moves, np.log(emit / emitted[:, None])[quality], roots


def markov_baseline(corpus: str | Path, split: str = "valid", smoothing: float = 0.5) -> dict:
    """A melody-conditioned Markov baseline, in numpy: P(chord | chord before, bar slot) times
    P(the beat before's melody | chord), the melody as pitch classes relative to the chord's root
    (naive Bayes on the sounding shares), all counted on the train split in all 12 keys."""
    moves, log_emit, roots = _baseline_tables(corpus, smoothing, melody_before=True)
    log_moves = np.log(moves)
    around = (np.arange(12)[None, :] + roots[:, None]) % 12
    nll, hits, count = 0.0, 0, 0
    for features, classes, slots in load_split(corpus, split):
        before, previous, slot = inputs(features, classes, slots)
        for t in range(len(classes)):
            score = log_moves[slot[t], previous[t]].copy()
            mel = before[t, :12]
            if mel.sum() > 0:
                score += (log_emit * np.take(mel, around)).sum(axis=1)
            score -= np.logaddexp.reduce(score)
            nll -= score[classes[t]]
            hits += int(np.argmax(score) == classes[t])
            count += 1
    return {"nll": nll / count, "accuracy": hits / count, "beats": count}


def hmm_baseline(corpus: str | Path, split: str = "valid", smoothing: float = 0.5) -> dict:
    """The chord model's baseline on its own task, in numpy: an HMM filtered online. Hidden: the
    chord of each beat; transitions P(chord | chord before, bar slot); emissions: a beat's melody
    as naive Bayes over its pitch classes relative to the chord's root (per quality), all counted
    on the train split in all 12 keys. Each beat's chord is predicted from the melody before it
    (the filtered belief of the beat before, moved on by the transitions), as the GRU is; NLL per
    beat (nats) and accuracy of the argmax, on `split`."""
    moves, log_emit, roots = _baseline_tables(corpus, smoothing, melody_before=False)
    around = (np.arange(12)[None, :] + roots[:, None]) % 12
    nll, hits, count = 0.0, 0, 0
    for features, classes, slots in load_split(corpus, split):
        belief = np.zeros(CLASSES)
        belief[0] = 1.0
        for b in range(len(classes)):
            predicted = belief @ moves[slots[b]]
            predicted /= predicted.sum()
            nll -= np.log(predicted[classes[b]])
            hits += int(np.argmax(predicted) == classes[b])
            count += 1
            melody = features[b, :12]
            score = (log_emit * melody[around]).sum(axis=1) if melody.sum() > 0 else np.zeros(CLASSES)
            belief = predicted * np.exp(score - score.max())
            belief /= belief.sum()
    return {"nll": nll / count, "accuracy": hits / count, "beats": count}


def extract_patterns(corpus: str | Path, split: str = "train", keep: int = 256, min_notes: int = 3):
    """The most common bars of the piano parts, as texture patterns (daemon/models/texture.py):
    every 4-beat bar over one chord (not N) whose notes all start inside it, the notes on the
    sixteenth grid, lengths capped at a bar; counted as played relative to their chord (the same
    shape on any root is one pattern), the `keep` most frequent returned, each with its count."""
    from collections import Counter

    from segue.daemon.models.texture import STEPS, Pattern

    counts, example = Counter(), {}
    piano = pop909.PARTS.index("PIANO")
    for song, notes in pop909.load(corpus, split):
        if song.beats_per_bar != 4:
            continue
        part = notes["part"] == piano
        onsets, ends = notes["onset"][part], notes["end"][part]
        pitches, velocities = notes["pitch"][part], notes["velocity"][part]
        chords = [(s, e, pop909.parse_chord(label)) for s, e, label in song.chords]
        for down in song.downbeats:
            over = [c for s, e, c in chords if s < down + 4 - 1e-3 and e > down + 1e-3]
            if len(over) != 1 or over[0].root < 0:
                continue
            chord = over[0]
            inside = (onsets >= down - 1 / 8) & (onsets < down + 4 - 1 / 8)
            if inside.sum() < min_notes:
                continue
            steps = np.clip(np.round((onsets[inside] - down) * 4).astype(int), 0, STEPS - 1)
            lengths = np.clip(np.round((ends[inside] - onsets[inside]) * 4).astype(int), 1, STEPS)
            rel = pitches[inside].astype(int) - chord.root
            key = tuple(sorted(zip(steps.tolist(), lengths.tolist(), rel.tolist(), [chord.quality] * len(rel))))
            counts[key] += 1
            if key not in example:
                example[key] = Pattern(chord.root, chord.quality, steps, lengths, pitches[inside].astype(int),
                                       velocities[inside].astype(int))
    return [(example[k], n) for k, n in counts.most_common(keep)]


if __name__ == "__main__":  # the experiment's runs: python -m segue.training.chords CORPUS OUT [--noise N] [--epochs E]
    import argparse

    parser = argparse.ArgumentParser(description="Train the chord model on a POP909 corpus (segue data pop909).")
    parser.add_argument("corpus")
    parser.add_argument("out")
    parser.add_argument("--noise", type=float, default=ChordConfig.noise)
    parser.add_argument("--epochs", type=int, default=ChordConfig.epochs)
    parser.add_argument("--previous", action="store_true", help="the variant that hears its own chord before")
    parser.add_argument("--hidden", type=int, default=ChordConfig.hidden)
    parser.add_argument("--window", type=int, default=ChordConfig.window)
    parser.add_argument("--baseline", action="store_true", help="print the Markov baseline on the valid split instead")
    parser.add_argument("--test", action="store_true",
                        help="score the checkpoint OUT and the online HMM baseline on the test split instead")
    args = parser.parse_args()
    if args.test:
        model = load_model(args.out)[0]
        print({"model": evaluate(model, load_split(args.corpus, "test")), "hmm": hmm_baseline(args.corpus, "test")})
    elif args.baseline:
        print(markov_baseline(args.corpus, "valid"))
    else:
        import sys

        train_chords(args.corpus, args.out, command="python -m segue.training.chords " + " ".join(sys.argv[1:]),
                     config=ChordConfig(epochs=args.epochs, noise=args.noise, previous=args.previous,
                                        hidden=args.hidden, window=args.window))
