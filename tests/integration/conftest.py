"""Fixtures shared by the pipeline tests (helpers themselves live in harness.py)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


@pytest.fixture(scope="module")
def standin():
    """A stand-in of the test module's own (harness.PrivateStandin), so that caps, counters,
    layouts and injected faults never leak between test files."""
    h.require_stack()
    sd = h.PrivateStandin()
    sd.start()
    yield sd
    sd.stop()
