"""Exercise checks, one module per notebook.

A notebook calls e.g. `checks.nb02.city_rule(validate_city, ...)`: the expected answers are
computed here, out of the student's sight, and compared through `labkit.teach.exercises.check`,
which says what is wrong without showing the answer and never raises. The tests call the
same checks with `labkit.teach.solutions`, so every check is known to accept a right answer.
"""
