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


@pytest.fixture
def pipeline(standin, request, tmp_path):
    """A factory of test_pipeline.Pipeline objects (a whole local pipeline each), for the
    files that drive the stages end to end; each one's processes are ended after the test,
    also when it failed midway, and the stand-in's settings reset."""
    from test_pipeline import Pipeline

    made = []

    def mk():
        p = Pipeline(tmp_path, request.node.name.replace("test_", "")[:30])
        made.append(p)
        return p
    yield mk
    for p in made:
        if p.workers:
            p.stop()
    h.standin_config_reset()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped test is a failed one: CI must never pass on a test it did not run
    (a missing stack, binary or service). A developer's run without the stack still skips, with
    the reason."""
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("CI") == "true" and rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = "skipped under CI=true, which counts as a failure: %s" % reason
