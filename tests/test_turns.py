"""Turn-taking from the model's time head (daemon/live/turns.py), and answers as long as the phrase."""
import numpy as np
import pytest
from segue.daemon.live.clock import Span
from segue.daemon.live.policy import CallAndResponse
from segue.daemon.live.turns import TurnRule, going_on
from test_engine import phrase

SECONDS = np.array([0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0])  # a codec's gaps, the last "or longer"


def logits(p):
    return np.log(np.asarray(p, float) + 1e-12)


def test_survival_is_the_mass_of_the_longer_gaps():
    p = [0.1, 0.2, 0.3, 0.2, 0.1, 0.05, 0.05]
    assert np.allclose(going_on(logits(p), SECONDS), [0.9, 0.7, 0.4, 0.2, 0.1, 0.05, 0.0], atol=1e-9)
    shuffled = np.array([3, 0, 6, 1, 5, 2, 4])  # the classes in any order: the same per class
    assert np.allclose(going_on(logits(np.asarray(p)[shuffled]), SECONDS[shuffled]),
                       np.array([0.9, 0.7, 0.4, 0.2, 0.1, 0.05, 0.0])[shuffled], atol=1e-9)


def test_the_rule_waits_for_the_gaps_the_model_expects_and_no_longer():
    expects_a_quarter = [0.05, 0.05, 0.8, 0.05, 0.03, 0.01, 0.01]
    rule = TurnRule(threshold=0.2)
    assert rule.wait(logits(expects_a_quarter), SECONDS) == pytest.approx(0.25 * 1.1 + 0.05)
    expects_a_rest = [0.02, 0.02, 0.06, 0.1, 0.7, 0.05, 0.05]  # a phrase end: a long rest, then more
    assert rule.wait(logits(expects_a_rest), SECONDS) == pytest.approx(1.0 * 1.1 + 0.05)
    waits = [TurnRule(threshold=t).wait(logits(expects_a_rest), SECONDS) for t in (0.4, 0.2, 0.08)]
    assert waits == sorted(waits)  # a lower threshold waits longer


def test_only_the_or_longer_class_left_means_the_longest_wait_and_the_bounds_hold():
    stopping = [0.01, 0.01, 0.01, 0.01, 0.01, 0.05, 0.9]
    assert TurnRule(threshold=0.2, longest=3.0).wait(logits(stopping), SECONDS) == 3.0
    at_once = [0.99, 0.01, 0, 0, 0, 0, 0]
    assert TurnRule(shortest=0.15).wait(logits(at_once), SECONDS) == 0.15
    with pytest.raises(ValueError, match="turn threshold"):
        TurnRule(threshold=1.5)


def test_call_and_response_answers_when_the_model_says_and_the_engine_caches_it(clocked):
    eng, clock = clocked
    rule = TurnRule(threshold=0.2)
    eng.policy = CallAndResponse(turn=rule)
    phrase(eng, clock, [60, 62, 64, 65, 67])
    wait = eng.turn_wait(rule)
    assert rule.shortest <= wait <= rule.longest
    assert eng.policy.due(eng) == pytest.approx(eng.last_player + wait)
    seconds = eng.codec.time_array * eng.cursor.scale
    assert wait == rule.wait(eng.model.heads(eng.logits)[2], seconds)
    assert "model hears the phrase end" in eng.policy.describe()


def test_an_answer_as_long_as_the_players_phrase(clocked):
    eng, clock = clocked
    start = clock.now
    phrase(eng, clock, [60, 62, 64, 65, 67], step=0.5)  # 2.5 s of playing
    assert eng.seconds(Span.parse("phrase")) == pytest.approx(eng.last_player - start)
    assert eng.seconds(Span.parse("0.5phrase")) == pytest.approx((eng.last_player - start) / 2)
