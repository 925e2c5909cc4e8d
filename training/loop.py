"""The epoch loop every trainer shares: steps through a `Runner`, validation, the best weights,
patience, a step budget, the time limit, and a checkpoint with a resume record after every epoch.

A run stopped by `--time-limit` stops after the step it is in, validates, and checkpoints where it
was inside the epoch; `--resume` rebuilds that epoch's batches from the random state at its start
(drawing what it drew, augmentations included), skips the batches already done, and goes on with
the saved weights, optimiser and torch streams: the weights come out as if it had not stopped.
A killed run resumes from its last epoch's end.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from .runner import Runner, rng_state

log = logging.getLogger(__name__)


@dataclass
class Loop:
    runner: Runner
    model: torch.nn.Module
    optimiser: torch.optim.Optimizer
    rng: np.random.Generator
    kind: str | None  # the checkpoint kind `--resume` must match (None: a stage of a fresh run, e.g.
    # pretraining, that neither resumes nor writes a checkpoint)
    epochs: int
    clip: float
    validate: Callable[[], dict] | None  # figures on the held-out data (rank 0 only; None: none)
    score: Callable[[dict], float]  # of the figures; lower is better
    best_key: str  # the row's figure the progress bar shows for the best epoch
    row: Callable[[int, float, dict | None], dict]  # an epoch's record from its mean loss and figures
    write: Callable[[dict | None, dict | None, list, dict], None] | None  # (best weights, best row, history, resume)
    schedule: object | None = None  # stepped once per whole epoch
    generators: Sequence[torch.Generator] = ()
    valid_every: int = 1
    patience: int = 0  # validations without a better score before stopping (0: never)
    steps: int = 0  # stop after this many optimiser steps in all (0: no budget)
    on_row: Callable[[dict, bool], None] | None = None  # (row, best now) after each epoch, rank 0
    config: dict = field(default_factory=dict)  # the run's settings: a resumed run must have the same
    history: list = field(default_factory=list)

    def run(self, batches: Callable[[], Iterable]) -> tuple[dict | None, list]:
        """Train over `batches()` (one epoch's global batches, in order, each drawing its own
        randomness from `rng` as it is made); returns (the best row, the history)."""
        self.runner.watch_sigterm()
        try:
            return self._run(batches)
        finally:
            self.runner.watch_sigterm(False)

    def _run(self, batches):
        r = self.runner
        best_row, best_figures, best_state, since, steps = None, None, None, 0, 0
        first, skip, carried = 1, 0, (0.0, 0)
        saved = r.resumed(self.kind) if self.kind else None
        if saved is not None:
            _same_settings(json.loads(saved["extra"]).get("config", {}), self.config, r.options.resume)
            first, skip, extra = r.restore(saved, model=self.model, optimiser=self.optimiser, schedule=self.schedule,
                                           rng=self.rng, generators=self.generators)
            self.history, since, steps = extra["history"], extra["since"], extra["steps"]
            best_row, best_figures = extra["best"], extra["best_figures"]
            best_state, carried = saved.get("best_state"), tuple(extra["partial"])
        update = r.bar(self.epochs, first)
        best_score = self.score(best_figures) if best_figures else math.inf
        epoch, checked = first - 1, False
        for epoch in range(first, self.epochs + 1):
            start = rng_state(self.rng)
            self.model.train()
            (total, count), done, seen, seconds = carried, 0, r.examples, r.train_seconds
            for i, batch in enumerate(self._batches(batches())):
                if i < skip:
                    continue
                if not checked:
                    r.check_amp(batch)
                    checked = True
                total += r.step(self.optimiser, batch, self.clip) * len(batch)
                count += len(batch)
                done, steps = i + 1, steps + 1
                if r.stopped or (self.steps and steps >= self.steps):
                    break
            else:
                done = 0  # the epoch ran to its end
            skip, carried = 0, (0.0, 0)
            budget_spent = bool(self.steps and steps >= self.steps)
            last = epoch == self.epochs or budget_spent or r.stopped
            if done == 0 and self.schedule is not None:
                self.schedule.step()
            due = self.validate is not None and (last or (done == 0 and epoch % self.valid_every == 0))
            figures = r.once(self.validate) if due else None
            row = self.row(epoch, total / max(count, 1), figures)
            row.update(steps=steps, examples_per_s=round((r.examples - seen) / max(r.train_seconds - seconds, 1e-9), 1))
            if done:
                row["partial_batches"] = done
            better = figures is not None and self.score(figures) < best_score
            if better:
                best_score, best_row, best_figures, since = self.score(figures), row, figures, 0
                best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
            elif figures is not None and done == 0:
                since += 1
            self.history.append(row)
            if self.write is not None:
                self._checkpoint(epoch, done, start, best_state, best_row, best_figures, since, steps, total, count)
            if r.main:
                update(row, (best_row[self.best_key], best_row["epoch"]) if best_row else None)
                if self.on_row:
                    self.on_row(row, better)
            if r.stopped and r.main:
                why = "SIGTERM" if r.terminated else f"the time limit ({r.options.time_limit:g} s)"
                where = f"after {done} batches of epoch {epoch}" if done else f"at the end of epoch {epoch}"
                log.warning("stopped by %s %s: validated and checkpointed; --resume with the checkpoint goes on",
                            why, where)
            if last or (self.patience and since >= self.patience):
                break
        if hasattr(update, "close"):
            update.close()
        return best_row, self.history

    def _checkpoint(self, epoch, done, start, best_state, best_row, best_figures, since, steps, total, count):
        """The checkpoint after an epoch (or the part of one a stop left): the best weights, the
        history, and where the run is, so that --resume goes on from here."""
        r = self.runner
        resume = r.snapshot(
            epoch=epoch if done else epoch + 1, done=done, model=self.model, optimiser=self.optimiser,
            schedule=self.schedule, rng_state=start if done else rng_state(self.rng), generators=self.generators,
            extra={"history": self.history, "best": best_row, "best_figures": best_figures, "since": since,
                   "steps": steps, "config": self.config, "partial": [total, count] if done else [0.0, 0]})
        resume["best_state"] = best_state
        r.save(lambda: self.write(best_state, best_row, self.history, resume))

    def _batches(self, batches: Iterable):
        if not (self.runner.options.progress and self.runner.main):
            return batches
        from tqdm import tqdm

        return tqdm(batches, unit="batch", leave=False, desc="steps")



# Setting values renamed since a run may have saved them: a run saved with the old name resumes.
RENAMED = {"codec": {"segue": "fixed", "seed": "per-file"}}
# Settings a resumed run may change: how long it goes on, and how often it looks.
CHANGEABLE = ("epochs", "patience", "valid_every", "steps", "valid_runs", "valid_betas")


def _same_settings(saved: dict, now: dict, path) -> None:
    """A resumed run must learn as the stopped one did: a changed setting other than how long it
    goes on is an error naming it (the batches of the stopped epoch would not be the same)."""
    saved = {k: RENAMED.get(k, {}).get(v, v) if isinstance(v, str) else v for k, v in saved.items()}
    changed = sorted(k for k in set(saved) | set(now) if k not in CHANGEABLE and saved.get(k) != now.get(k))
    if changed:
        shown = ", ".join(f"{k} {saved.get(k)!r} -> {now.get(k)!r}" for k in changed[:4])
        raise ValueError(f"{path}: --resume needs the run's own settings; changed: {shown} "
                         f"(only {', '.join(CHANGEABLE)} may change)")


def plot_history(history: list[dict], path, panels: list, title: str = "") -> None:
    """A run's curves per epoch, one panel per (y label, [(line label, history key, scale)]); an
    epoch without a figure (no validation then) is left out of that line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), dpi=100, squeeze=False)
    for ax, (label, lines) in zip(axes[0], panels):
        for name, key, scale in lines:
            rows = [h for h in history if key in h]
            ax.plot([h["epoch"] for h in rows], [h[key] * scale for h in rows], "o-" if len(rows) < 3 else "-",
                    label=name)
        ax.set_xlabel("epoch"); ax.set_ylabel(label); ax.legend(); ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
