"""Reference solutions to the notebooks' exercises, one module per notebook.

Students: try first! The tests run every solution through the notebook's own checks.
"""
