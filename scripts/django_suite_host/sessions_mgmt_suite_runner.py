"""Django's ``DiscoverRunner``, recording each test's outcome in a JSON file for
scripts/django_suite.py, and leaving out the tests it is told to skip.

- ``DJANGO_SUITE_RESULTS``: where to write ``{"tests": {id: {"outcome", "detail"}}, ...}``.
  Outcomes: ``passed``, ``failed``, ``error``, ``skipped``, ``xfail``, ``xpass``; a test
  with failing subtests is ``failed``/``error`` with each subtest's traceback in
  ``detail``. Errors outside a test (``setUpClass``, a module that does not import) are
  recorded under the id of their class or module.
- ``DJANGO_SUITE_SKIP``: a JSON file ``{id or dotted prefix: reason}``; matching tests
  are not run at all (recorded as ``skipped`` with ``skipped_by_harness``).
- ``DJANGO_SUITE_QUIET``: the same for accepted failures, whose tracebacks are not printed
  (they are still recorded, and counted in unittest's summary line).

With ``--parallel`` the workers send their events to the main process's result, so the
recording happens in one place.
"""

import json
import os
import re
import unittest

from django.test.runner import DiscoverRunner

_HOLDER = re.compile(r"^(?:setUpClass|tearDownClass|setUpModule|tearDownModule) \((.+)\)$")
_RANK = {"passed": 0, "skipped": 0, "xfail": 0, "xpass": 1, "failed": 2, "error": 3}


def test_id(test) -> str:
    """A test's dotted id; a class- or module-level error's holder is named after its
    class or module."""
    name = test.id()
    match = _HOLDER.match(str(test))
    if match:
        return match.group(1)
    if name.startswith("unittest.loader._FailedTest."):
        return name[len("unittest.loader._FailedTest.") :]
    return name


def matching(name: str, table: dict):
    """The entry of ``table`` for ``name``: its own, or that of a dotted prefix of it."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        found = table.get(".".join(parts[:end]))
        if found is not None:
            return found
    return None


def _table(variable: str) -> dict:
    path = os.environ.get(variable)
    if not path:
        return {}
    with open(path) as file:
        return json.load(file)


class RecordingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records: dict[str, dict] = {}
        self.quiet = _table("DJANGO_SUITE_QUIET")

    def printErrorList(self, flavour, errors):
        shown = [(test, err) for test, err in errors if not matching(test_id(test), self.quiet)]
        super().printErrorList(flavour, shown)
        if len(shown) < len(errors):
            self.stream.writeln(
                f"({len(errors) - len(shown)} {flavour} accepted as deliberate differences "
                "not shown: scripts/django_suite_expected.txt)"
            )

    def _record(self, test, outcome: str, detail: str = "") -> None:
        name = test_id(test)
        old = self.records.get(name)
        if old is None:
            self.records[name] = {"outcome": outcome, "detail": detail}
            return
        if detail:
            old["detail"] = (old["detail"] + "\n" + detail).strip()
        if _RANK[outcome] > _RANK[old["outcome"]]:
            old["outcome"] = outcome

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failed", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "xfail")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "xpass")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            text = f"[subtest {subtest._subDescription()}]\n" + self._exc_info_to_string(err, test)
            self._record(test, "failed" if failed else "error", text)


class RecordingRunner(DiscoverRunner):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.results_path = os.environ.get("DJANGO_SUITE_RESULTS")
        self.skips: dict[str, str] = _table("DJANGO_SUITE_SKIP")
        self.left_out: dict[str, str] = {}

    def test_suite(self, tests=()):
        """Called by ``build_suite`` with every test found, before the suite is split
        between the parallel workers: drop the ones to skip here."""
        kept = []
        for test in tests:
            reason = matching(test.id(), self.skips) if self.skips else None
            if reason is None:
                kept.append(test)
            else:
                self.left_out[test.id()] = reason
        return unittest.TestSuite(kept)

    def get_resultclass(self):
        return RecordingResult

    def run_suite(self, suite, **kwargs):
        result = super().run_suite(suite, **kwargs)
        if self.results_path:
            tests = dict(result.records)
            for name, reason in self.left_out.items():
                tests[name] = {"outcome": "skipped", "detail": reason, "skipped_by_harness": True}
            with open(self.results_path, "w") as file:
                json.dump({"tests": tests, "testsRun": result.testsRun}, file, indent=1)
        return result
