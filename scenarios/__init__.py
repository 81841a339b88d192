"""Reliability scenarios against real processes (docs/reliability.md).

Each module runs one scenario with ``python -m scenarios.<name>`` from the
repository root and prints its figures as JSON. The slow tests in
``tests/e2e/test_reliability_scenarios.py`` call the same functions with
smaller sizes.
"""
