"""Turn-taking from the model's time head (daemon/live/turns.py), and answers as long as the phrase."""
import numpy as np
import pytest
from segue.daemon.formats.units import Span
from segue.daemon.live.policy import CallAndResponse
from segue.daemon.live.turns import TurnRule, phrase_goes_on
from test_engine import phrase

SECONDS = np.array([0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0])  # a codec's gaps at a 0.5 s beat, the last "or longer"
BEAT = 0.5


def logits(p):
    return np.log(np.asarray(p, float) + 1e-12)


def test_the_phrase_goes_on_while_a_gap_before_the_break_is_still_likely():
    p = [0.1, 0.2, 0.3, 0.2, 0.1, 0.05, 0.05]
    # once v has passed: the mass of the gaps in (v, 0.5 s] over the mass of the gaps longer than v
    expected = [0.7 / 0.9, 0.5 / 0.7, 0.2 / 0.4, 0.0, 0.0, 0.0, 0.0]
    assert np.allclose(phrase_goes_on(logits(p), SECONDS, 0.5), expected, atol=1e-9)
    shuffled = np.array([3, 0, 6, 1, 5, 2, 4])  # the classes in any order: the same per class
    assert np.allclose(phrase_goes_on(logits(np.asarray(p)[shuffled]), SECONDS[shuffled], 0.5),
                       np.array(expected)[shuffled], atol=1e-9)


def test_an_expected_rest_is_waited_out_and_an_expected_break_answered_at_once():
    rule = TurnRule(threshold=0.3, phrase_break=1.0, answer_by=0.75)
    rest_inside = [0.05, 0.0, 0.8, 0.05, 0.03, 0.01, 0.06]  # a quarter-beat rest, then the phrase goes on
    assert rule.wait(logits(rest_inside), SECONDS, BEAT) == pytest.approx(0.75 * BEAT)  # the most it waits
    cadence = [0.05, 0.02, 0.02, 0.01, 0.8, 0.05, 0.05]  # the model expects a two-beat break
    assert rule.wait(logits(cadence), SECONDS, BEAT) == pytest.approx(rule.shortest)
    waits = [TurnRule(threshold=t).wait(logits([0.1, 0.1, 0.3, 0.1, 0.3, 0.05, 0.05]), SECONDS, BEAT)
             for t in (0.9, 0.5, 0.3, 0.05)]
    assert waits == sorted(waits) and waits[0] < waits[-1]  # a lower threshold waits longer


def test_the_answer_by_bound_follows_the_tempo_and_bad_values_are_named():
    undecided = [0.1, 0.1, 0.2, 0.2, 0.2, 0.1, 0.1]
    rule = TurnRule(threshold=0.05)
    assert rule.wait(logits(undecided), SECONDS * 2, 1.0) == pytest.approx(2 * rule.wait(logits(undecided), SECONDS, BEAT))
    with pytest.raises(ValueError, match="--turn-threshold"):
        TurnRule(threshold=1.5)
    with pytest.raises(ValueError, match="phrase break"):
        TurnRule(phrase_break=0)


def test_call_and_response_answers_when_the_model_says_and_the_engine_caches_it(clocked):
    eng, clock = clocked
    rule = TurnRule()
    eng.policy = CallAndResponse(turn=rule)
    phrase(eng, clock, [60, 62, 64, 65, 67])
    wait = eng.turn_wait(rule)
    assert rule.shortest <= wait <= rule.longest(eng.timeline.beat_seconds)
    assert eng.policy.due(eng) == pytest.approx(eng.last_player + wait)
    seconds = eng.context.codec.time_array * eng.context.cursor.scale
    assert wait == rule.wait(eng.context.model.heads(eng.context.logits)[2], seconds, eng.timeline.beat_seconds)
    assert "model hears the phrase end" in eng.policy.describe()


def test_an_answer_as_long_as_the_players_phrase(clocked):
    eng, clock = clocked
    start = clock.now
    phrase(eng, clock, [60, 62, 64, 65, 67], step=0.5)  # 2.5 s of playing
    assert eng.seconds(Span.parse("phrase")) == pytest.approx(eng.last_player - start)
    assert eng.seconds(Span.parse("0.5phrase")) == pytest.approx((eng.last_player - start) / 2)
