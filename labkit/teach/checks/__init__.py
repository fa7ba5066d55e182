"""Exercise checks, one module per notebook.

A notebook calls e.g. `checks.nb02.city_rule(validate_city, ...)`: the expected answers are
computed here, out of the student's sight, and compared through `labkit.teach.exercises.check`,
which says what is wrong without showing the answer and never raises. The tests call the
same checks with `labkit.teach.solutions`, so every check is known to accept a right answer.

Each module follows one shape:
- `HINTS = exercises.register_hints({...})` at the top: the notebook's hints, from the idea to
  the API (never the code), there as soon as `exercises.hint("02.1")` asks;
- each check is decorated with `@exercises.graded(name)` (an error the student's code raises
  while the check runs is reported as theirs) and calls `exercises.expect_type` on what the
  student's function returned before using it, so None, a wrong type or an exception gets a
  ✘ with a message, never a traceback from inside the check.
"""
