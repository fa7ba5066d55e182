"""Teaching aids: exercise checks and solutions, recorded numbers, the pipeline picture.

- `exercises`        attempts, verdicts and hints for the notebooks' exercises
- `checks`           one module of checks per notebook
- `solutions`        the reference solutions, run by the tests through the same checks
- `records`          key numbers a notebook records, so tests can compare runs
- `diagram`          the pipeline picture with the current stage highlighted
- `notebook_runner`  run every notebook headless with papermill and report
"""
