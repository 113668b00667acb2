"""A pytest plugin: with SENTIMENT_NO_SKIPS=1 (CI sets it), any skipped test fails the run.

A test skips when what it needs is missing (Chromium, nginx, curl, root for a tmpfs, the
Kaggle file beside the project). On a laptop that is a convenience; in CI it would hide a
missing install step, so there every skip is listed with its reason and the run fails.
"""

import os

import pytest

ENV = "SENTIMENT_NO_SKIPS"


def required() -> bool:
    """Whether skips are failures in this run."""
    return os.environ.get(ENV) == "1"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped or not required():
        return
    terminalreporter.section(f"{ENV}=1: {len(skipped)} skipped, and a skip fails this run")
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        terminalreporter.line(f"{report.nodeid}: {reason}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and required() and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
