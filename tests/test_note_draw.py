"""NoteDraw: a voice's note draws from penalties kept up to date are the draws of masks built afresh."""
import numpy as np
import pytest
from segue.daemon.formats.midifile import NoteMessage
from segue.daemon.formats.notes import NoteGuard
from segue.daemon.models.continuation import NoteDraw
from segue.daemon.models.event import EventModel
from segue.daemon.models.sampling import GumbelNoise, Sampling


def reference_note(model, logits, sampling, noise, sounding, held, struck_now, base, prior, weight, constrain):
    """The rule written plainly: every class set built from the voice's sets for this one draw."""
    pitch_logits, vel_logits, _ = model.heads(logits)
    codec, size = model.codec, len(pitch_logits)
    on_keys = np.array([codec.low <= base + c <= codec.high for c in range(size)])

    def mask(pitches):
        m = np.zeros(size, bool)
        m[[p - base for p in pitches if 0 <= p - base < size]] = True
        return m

    if not constrain:
        return sampling.draw(pitch_logits, noise, banned=~on_keys), sampling.draw(vel_logits, noise)
    endable = mask(sounding)
    vel = sampling.draw(vel_logits, noise, banned=None if endable.any() else 0)
    if vel == 0:
        return sampling.draw(pitch_logits, noise, banned=~endable), vel
    silent = on_keys & ~mask(sounding | struck_now)
    if not silent.any():  # every key in reach sounds: one ends instead
        if endable.any():
            return sampling.draw(pitch_logits, noise, banned=~endable), 0
        silent = on_keys
    free = silent & ~mask(held)
    if prior is not None and weight:
        p = np.exp(pitch_logits - pitch_logits.max())
        pitch_logits = np.log(np.maximum((1 - weight) * p / p.sum() + weight * prior, 1e-30)).astype(np.float32)
    return sampling.draw(pitch_logits, noise, banned=~free if free.any() else ~silent), vel


@pytest.mark.parametrize("sampling, constrain, weight", [
    (Sampling(0.9), True, 0.0), (Sampling(), True, 0.3), (Sampling(1.5, top_k=12, top_p=0.9), True, 0.0),
    (Sampling(2.0), False, 0.0),
])
def test_draws_match_masks_built_afresh(sampling, constrain, weight):
    model = EventModel("folk")  # an interval model: the window of classes moves with every strike
    size, rng = model.codec.pitch_classes, np.random.default_rng(5)
    stream = model.stream()
    lean, plain = GumbelNoise(11), GumbelNoise(11)
    draw, guard = NoteDraw(model, sampling, lean, constrain), NoteGuard(1.0)
    logits, clock, reference = stream.advance(0, 0, 0, 0, 0, 0), 0.0, 60
    kinds = set()
    for i in range(1500):
        clock += float(rng.choice([0.0, 0.0, 0.1, 0.25, 0.5]))
        draw.follow(guard.release_due(clock))
        draw.now(clock)
        # The player holds a cluster now and then (sometimes every key the voice could strike).
        held = frozenset(range(20, 120)) if i % 97 == 5 else frozenset(rng.integers(40, 80, 6)) if i % 3 else frozenset()
        draw.hold(held)
        base = reference - size // 2
        prior = rng.dirichlet(np.ones(size)) if weight else None
        sounding, everything = guard.sounding(0, before=clock), guard.sounding(0)
        want = reference_note(model, logits, sampling, plain, sounding, held, everything - sounding, base, prior,
                              weight, constrain)
        got = draw.note(logits, base, prior, weight)
        assert got == want, f"draw {i}"
        pitch, vel = got
        kinds.add("release" if vel == 0 else "strike")
        draw.follow(guard.feed(NoteMessage(clock, pitch + base, vel, 0)))
        if vel and model.codec.low <= pitch + base <= model.codec.high:
            reference = pitch + base
        logits = stream.advance(int(rng.integers(size)), vel, 3, 0, 0, 0)
    assert kinds == {"release", "strike"}
    assert draw.time(logits) == sampling.draw(model.heads(logits)[2], plain)


def test_a_fully_held_keyboard_still_strikes_a_silent_key():
    model = EventModel("folk")
    draw = NoteDraw(model, Sampling(), GumbelNoise(2))
    logits = model.stream().advance(0, 0, 0, 0, 0, 0)
    draw.hold(frozenset(range(128)))
    draw.follow([NoteMessage(0.0, 60, 90, 0)])
    for _ in range(200):
        pitch, vel = draw.note(logits, 60 - model.codec.pitch_classes // 2)
        assert vel > 0 and pitch + 60 - model.codec.pitch_classes // 2 != 60  # not released at once, not re-struck


def test_with_every_key_in_reach_sounding_a_strike_becomes_a_release_never_a_key_off_the_keyboard():
    """A keyboard model piling up notes near the bottom: the window of pitches it can strike (44 either
    side of its last note, the keyboard from 24) all sound. It ends one of them instead of striking
    a class that stands for no key."""
    model = EventModel("folk")
    size = model.codec.pitch_classes
    draw = NoteDraw(model, Sampling(), GumbelNoise(3))
    base = 27 - size // 2
    draw.follow([NoteMessage(0.0, p, 90, 0) for p in range(24, base + size)])
    draw.now(0.5)
    logits = model.stream().advance(0, 0, 0, 0, 0, 0)
    for _ in range(100):
        pitch, vel = draw.note(logits, base)
        assert model.codec.low <= pitch + base <= model.codec.high
        assert vel == 0
