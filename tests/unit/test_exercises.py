from labkit import exercises


def stub():
    raise NotImplementedError


def buggy():
    return 1 / 0


def test_unattempted_stub_is_reported_not_raised(capsys):
    assert exercises.check("x", exercises.attempt(stub), 3) is False
    assert "not attempted" in capsys.readouterr().out


def test_a_bug_in_an_attempt_is_reported_not_raised(capsys):
    assert exercises.check("x", exercises.attempt(buggy), 3) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_right_and_wrong_answers(capsys):
    assert exercises.check("x", exercises.attempt(lambda: 3), 3) is True
    assert exercises.check("x", 4, 3, hint="count again") is False
    out = capsys.readouterr().out
    assert "✔" in out and "count again" in out
