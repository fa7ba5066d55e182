"""Exercise 08.2 (diagnose the board): the solution passes; the classic misreadings fail."""

import pytest

from labkit.teach.checks import nb08
from labkit.teach.solutions import nb08 as solution
from tests.wrong_answers import assert_rejected

pytestmark = pytest.mark.unit


def test_the_solution_passes(capsys):
    assert nb08.diagnose(solution.diagnose)


def by_throughput_only(board):  # 0 processed: "stopped", whichever part stopped
    if board["events_per_s"][-1] == 0:
        return "processor stopped"
    return "bad producer" if max(board["invalid_ratio"]) > 0.5 else "healthy"


def by_freshness_only(board):  # old data: the processor must be down
    return "processor stopped" if board["freshness_s"][-1] > 30 else solution.diagnose(board)


def by_the_size_of_the_lag(board):  # any lag is trouble
    if board["lag"][-1] > 100:
        return "processor falling behind" if board["events_per_s"][-1] else "processor stopped"
    return solution.diagnose(board)


def by_a_higher_bar_on_the_lag_size(board):  # a bar above the busy board's steady 500
    if board["lag"][-1] > 600:
        return "processor falling behind" if board["events_per_s"][-1] else "processor stopped"
    return solution.diagnose(board)


def by_doubling(board):  # "growing" as doubling: true from 0, false on top of a backlog
    if max(board["invalid_ratio"]) > 0.5:
        return "bad producer"
    if board["events_per_s"][-1] == 0:
        return "processor stopped" if board["lag"][-1] > 0 else "cars stopped sending"
    return "processor falling behind" if board["lag"][-1] > 2 * board["lag"][0] else "healthy"


def by_last_above_first(board):  # any rise is growth: noise on a steady board reads as trouble
    if board["lag"][-1] > board["lag"][0]:
        return "processor stopped" if board["events_per_s"][-1] == 0 else "processor falling behind"
    return solution.diagnose(board)


def by_a_lag_that_only_rises(board):  # growth as "every sample above the last": bursts slip through
    lag = board["lag"]
    if all(later > earlier for earlier, later in zip(lag, lag[1:])):
        return "processor stopped" if board["events_per_s"][-1] == 0 else "processor falling behind"
    if max(board["invalid_ratio"]) > 0.5:
        return "bad producer"
    return "cars stopped sending" if board["events_per_s"][-1] == 0 else "healthy"


def by_freshness_growth(board):  # never reads how the lag moves: waiting messages, then ageing data
    if max(board["invalid_ratio"]) > 0.5:
        return "bad producer"
    if board["events_per_s"][-1] == 0:
        return "processor stopped" if board["lag"][-1] > 0 else "cars stopped sending"
    return "processor falling behind" if board["freshness_s"][-1] - board["freshness_s"][0] >= 5 else "healthy"


def by_the_swing(board):  # a lag that moves a lot must be growing
    if max(board["lag"]) - min(board["lag"]) > 100:
        return "processor falling behind" if board["events_per_s"][-1] else "processor stopped"
    return solution.diagnose(board)


def by_a_fixed_growth_bar(board):  # growth, but by a number fitted to the boards seen so far
    lag, processed = board["lag"], board["events_per_s"]
    if lag[-1] - lag[0] > 40:
        return "processor stopped" if processed[-1] == 0 else "processor falling behind"
    return solution.diagnose({**board, "lag": [lag[0]] * len(lag)})


def by_any_sample_without_throughput(board):  # 0 processed at some point, not necessarily now
    if min(board["events_per_s"]) == 0 and board["lag"][-1] > 0:
        return "processor stopped"
    return solution.diagnose(board)


def quiet_whenever_nothing_is_processed(board):  # 0 processed now: "cars stopped", whatever waits
    if board["events_per_s"][-1] == 0 and board["lag"][-1] - board["lag"][0] <= max(10, 0.1 * board["lag"][0]):
        return "cars stopped sending"
    return solution.diagnose(board)


def by_garbage_first(board):  # the invalid share decided before the lag
    return "bad producer" if max(board["invalid_ratio"]) > 0.5 else solution.diagnose(board)


@pytest.mark.parametrize("student, words", [
    (by_the_swing, "a busy pipeline that takes its work"),
    (by_a_fixed_growth_bar, "just short of keeping up"),
    (by_a_lag_that_only_rises, "falling behind in bursts"),
    (by_freshness_growth, "a few more cars"),
    (by_last_above_first, "a steady pipeline"),
    (by_throughput_only, "the cars went quiet"),
    (by_freshness_only, "the cars went quiet"),
    (by_the_size_of_the_lag, "a busy pipeline"),
    (by_a_higher_bar_on_the_lag_size, "a backlog of thousands"),
    (by_doubling, "falling behind on top of a backlog"),
    (by_any_sample_without_throughput, ("back from a restart", "you said 'processor stopped'")),
    (by_garbage_first, ("while a device sends garbage", "you said 'bad producer'")),
    (quiet_whenever_nothing_is_processed, ("stopped while nothing new arrives", "you said 'cars stopped sending'")),
    (lambda board: "healthy", "the processor was killed"),  # one answer for every board
    (lambda board: 1, "for a steady pipeline"),  # a number, not a diagnosis
    (lambda board: "broken", "not one of"),
    (lambda board: None, "returned None"),
])
def test_misreadings_are_rejected(capsys, student, words):
    words = words if isinstance(words, tuple) else (words,)
    assert_rejected(capsys, nb08.diagnose(student), *words, exercise="08.2")


def test_the_untouched_stub_is_not_attempted(capsys):
    def diagnose(board):
        raise NotImplementedError

    assert nb08.diagnose(diagnose) is False
    assert "not attempted" in capsys.readouterr().out


def test_08_3_rejects_the_lab_s_own_lag_function(capsys):
    from labkit.config import Settings

    def with_the_labs_lag(consumer, topic):
        from labkit.ops import kafka_io

        return sum(kafka_io.consumer_lag(Settings.from_env(), "g", topic).values())

    assert nb08.total_lag(with_the_labs_lag, Settings.from_env(), "g", "t") is False
    assert "your function calls consumer_lag" in capsys.readouterr().out


def test_08_3_names_each_mistaken_reading_of_its_topic_by_its_own_sum():
    mistakes = nb08.lag_mistakes()
    right = sum(nb08.LAG_TOPIC_MESSAGES[p] - max(nb08.LAG_COMMITTED[p] or 0, nb08.LAG_DELETED_BEFORE.get(p, 0))
                for p in nb08.LAG_TOPIC_MESSAGES)
    assert len(mistakes) == 6 and right not in mistakes
