"""The examples in docstrings are tests too: run them so they cannot drift from the code."""

import doctest
import importlib

import pytest

MODULES = [
    "r1f.schema",
    "generators.problems",
    "r1f.stats",
    "r1f.config",
    "generators.config",
    "generators.datasets",
    "training.probe",
    "generators.solutions",
    "filters.rewards.control",
    "curation.decontaminate",
    "filters.text",
    "filters.rewards.accuracy",
    "filters.rewards.format",
    "filters.rewards.penalties",
    "filters.rewards.language",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
