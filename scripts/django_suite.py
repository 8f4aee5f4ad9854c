"""Django's own test suites as a guard: run them with sessions_mgmt installed (issue 21).

Fetches the source distribution of the installed Django version from PyPI once (``pip
download --no-deps --no-binary :all:``; its ``tests/`` holds ``runtests.py``), extracts its
``tests`` directory under ``.cache/django-src/``, and runs Django's ``runtests.py`` on the
installed Django with the app added the README's way (scripts/django_suite_host/; nothing
of Django's is changed on disk). Every test's outcome is compared with
scripts/django_suite_expected.txt:

- ``difference``: a deliberate difference of the app: its failure is accepted;
- ``skip``: not run at all (a deliberate difference that would disturb other tests, or a
  test that cannot pass in this set-up even without the app);
- ``bug``: a known defect of the app: still a failure, unless ``--allow-known-bugs``.

Any other failure or error exits 1, as does a ``bug`` entry that still fails; with
``--strict`` so does an entry whose tests no longer fail (it can go). A run that could not
start exits 2. docs/DJANGO_SUITE.md explains the entries.

    scripts/django-suite.sh                          # the five suites, db sessions, 2 processes
    scripts/django-suite.sh auth_tests.test_views    # a part of them (runtests' labels)
    scripts/django-suite.sh --session-engine all     # once per engine: db, cache, cached_db, file
    scripts/django-suite.sh --mode baseline          # Django's suite without the app
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = ROOT / "scripts" / "django_suite_host"
EXPECTED = ROOT / "scripts" / "django_suite_expected.txt"
CACHE = ROOT / ".cache" / "django-src"
SUITES = ["sessions_tests", "auth_tests", "test_client", "test_client_regress", "view_tests"]
KINDS = ("difference", "skip", "bug")
ENGINES = ("db", "cache", "cached_db", "file")
MODES = ("app", "app-model-backend", "baseline")
FAILED = ("failed", "error", "xpass")
# Django's runner needs tblib for --parallel to bring a failure's traceback back to the
# main process (Django's tests/requirements/py3.txt lists it).
NEEDS = {"tblib": "tblib>=1.5"}


def log(message: str) -> None:
    print(f"[django-suite] {message}", flush=True)


def django_version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import django; print(django.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def django_tests(python: str, version: str) -> Path:
    """Django's ``tests`` directory from its sdist on PyPI, fetched and extracted once."""
    target = CACHE / f"django-{version}"
    if (target / ".complete").exists():
        return target / "tests"
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        log(f"fetching the source distribution of Django {version} from PyPI")
        subprocess.run(
            [
                *(python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"),
                *("--no-deps", "--no-binary", ":all:", f"Django=={version}", "-d", work),
            ],
            check=True,
        )
        archives = [p for p in Path(work).iterdir() if p.name.lower().endswith(".tar.gz")]
        if len(archives) != 1:
            raise SystemExit(f"expected one Django sdist, pip left {archives}")
        extracted = Path(work) / "extracted"
        with tarfile.open(archives[0]) as archive:
            members = [m for m in archive.getmembers() if m.name.split("/")[1:2] == ["tests"]]
            tops = {m.name.split("/")[0] for m in members}
            if len(tops) != 1 or not any(m.name.endswith("/tests/runtests.py") for m in members):
                raise SystemExit(f"{archives[0].name} has no <dir>/tests/runtests.py")
            archive.extractall(extracted, members=members, filter="data")
        if target.exists():
            shutil.rmtree(target)
        (extracted / tops.pop()).rename(target)
        (target / ".complete").write_text(archives[0].name + "\n")
    return target / "tests"


def ensure_needs(python: str) -> None:
    for module, requirement in NEEDS.items():
        if subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode:
            log(f"installing {requirement} (Django's test runner needs it for --parallel)")
            subprocess.run(
                [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
                + [requirement],
                check=True,
            )


class Entry:
    """One line of the expected list: ``<id> <kind>[@tag,tag] <reason>``. Tags (engines,
    modes) limit the entry to runs with one of those engines / modes."""

    def __init__(self, name: str, kind: str, reason: str, line: int) -> None:
        self.name, self.reason, self.line = name, reason, line
        self.kind, _, tags = kind.partition("@")
        self.tags = set(filter(None, tags.split(",")))
        self.engines = self.tags & set(ENGINES)
        self.modes = self.tags & set(MODES)

    def applies(self, engine: str, mode: str) -> bool:
        return (not self.engines or engine in self.engines) and (
            not self.modes or mode in self.modes
        )


def read_expected(path: Path) -> list[Entry]:
    entries, seen = [], set()
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        entry = Entry(*parts, number) if len(parts) == 3 else None
        if (
            entry is None
            or entry.kind not in KINDS
            or entry.tags - set(ENGINES) - set(MODES)
            or (entry.modes and "baseline" in entry.modes)
        ):
            raise SystemExit(
                f"{path.name}:{number}: want '<test id> <{'|'.join(KINDS)}>[@engine|mode,...] "
                f"<reason>' (engines: {', '.join(ENGINES)}; modes: app, app-model-backend)"
            )
        for tag in entry.engines or ENGINES:
            for mode in entry.modes or MODES[:2]:
                if (entry.name, tag, mode) in seen:
                    raise SystemExit(f"{path.name}:{number}: {entry.name} is listed twice")
                seen.add((entry.name, tag, mode))
        entries.append(entry)
    return entries


def entry_for(name: str, entries: dict[str, Entry]) -> Entry | None:
    """The entry for a test id: its own, or that of a dotted prefix (class, module)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        entry = entries.get(".".join(parts[:end]))
        if entry is not None:
            return entry
    return None


def in_scope(name: str, labels: list[str]) -> bool:
    """Whether a run of ``labels`` runs the tests of the entry ``name``."""
    return any(
        name == label or name.startswith(label + ".") or label.startswith(name + ".")
        for label in labels
    )


def tail(detail: str, lines: int = 14) -> str:
    return "\n".join("      " + line for line in detail.strip().splitlines()[-lines:])


def run(args, tests: Path, version: str, engine: str, labels: list[str], all_entries) -> dict:
    """One run of runtests.py; returns its tally."""
    mode = args.mode
    entries = {e.name: e for e in all_entries if mode != "baseline" and e.applies(engine, mode)}
    with tempfile.TemporaryDirectory(prefix="django-suite-") as work:
        results_path = Path(work) / "results.json"
        skip_path, quiet_path = Path(work) / "skip.json", Path(work) / "quiet.json"
        for path, kind in ((skip_path, "skip"), (quiet_path, "difference")):
            path.write_text(
                json.dumps({e.name: e.reason for e in entries.values() if e.kind == kind})
            )
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(
            DJANGO_SUITE_MODE=mode,
            DJANGO_SUITE_RESULTS=str(results_path),
            DJANGO_SUITE_SKIP=str(skip_path),
            DJANGO_SUITE_QUIET=str(quiet_path),
            DJANGO_SUITE_SESSION_ENGINE=f"django.contrib.sessions.backends.{engine}",
            PYTHONPATH=os.pathsep.join(filter(None, [str(HOST), env.get("PYTHONPATH")])),
        )
        command = [
            args.python,
            str(HOST / "run_runtests.py"),
            "--settings=sessions_mgmt_suite_settings",
            f"--parallel={args.parallel}",
            f"--verbosity={args.verbosity}",
            "--noinput",
            *[f"-k={pattern}" for pattern in args.k],
            *labels,
        ]
        log(f"Django {version}, {mode}, {engine} sessions: runtests.py {' '.join(command[2:])}")
        started = time.monotonic()
        ran = subprocess.run(command, cwd=tests, env=env)
        elapsed = time.monotonic() - started
        if not results_path.exists():
            log(f"runtests.py ended ({ran.returncode}) before running the tests: see above")
            return {"broken": True, "engine": engine}
        results = json.loads(results_path.read_text())["tests"]

    counts: dict[str, int] = {}
    unexpected, accepted, bugs = [], [], []
    outcomes: dict[str, set] = {}
    for name, record in sorted(results.items()):
        outcome = record["outcome"]
        counts[outcome] = counts.get(outcome, 0) + 1
        entry = entry_for(name, entries)
        if entry is not None:
            outcomes.setdefault(entry.name, set()).add(outcome)
        if outcome not in FAILED:
            continue
        if entry is None or entry.kind == "skip":
            unexpected.append((name, record))
        elif entry.kind == "bug":
            bugs.append((name, record, entry))
        else:
            accepted.append((name, record, entry))
    stale = [
        e
        for e in sorted(entries.values(), key=lambda e: e.line)
        if e.kind != "skip"
        and not args.k
        and in_scope(e.name, labels)
        and not outcomes.get(e.name, set()) & set(FAILED)
    ]

    print()
    if accepted:
        log(f"{len(accepted)} failing as expected (deliberate differences):")
        for name, record, entry in accepted:
            print(f"    {name}  [{record['outcome']}]  {entry.reason}")
    left_out = sorted(n for n, r in results.items() if r.get("skipped_by_harness"))
    if left_out:
        log(f"{len(left_out)} not run (kind 'skip' in the expected list):")
        for name in left_out:
            print(f"    {name}  {results[name]['detail']}")
    if bugs:
        verdict = "accepted (--allow-known-bugs)" if args.allow_known_bugs else "FAILING"
        log(f"{len(bugs)} known bugs of the app, {verdict}:")
        for name, record, entry in bugs:
            print(f"    {name}  [{record['outcome']}]  {entry.reason}")
    if stale:
        log(f"{len(stale)} expected-list entries whose tests did not fail (can they go?):")
        for entry in stale:
            seen = ",".join(sorted(outcomes.get(entry.name, {"not run"})))
            print(f"    line {entry.line}: {entry.name} ({entry.kind}; {seen})")
    if unexpected:
        log(f"{len(unexpected)} UNEXPECTED failures or errors:")
        for name, record in unexpected:
            print(f"  {name}  [{record['outcome']}]")
            if record["detail"]:
                print(tail(record["detail"]))
    counting = len(unexpected) + (0 if args.allow_known_bugs else len(bugs))
    if mode != "baseline" and not args.labels and not args.k and not accepted and entries:
        # The whole suites ran and no deliberate difference showed: the app was not active.
        log("no deliberate difference failed: is the app installed in the test processes?")
        return {"broken": True, "engine": engine}
    log(
        f"{engine}: {len(results)} tests in {elapsed:.0f} s: "
        + ", ".join(f"{counts[k]} {k}" for k in sorted(counts))
        + f"; {len(accepted)} accepted, {len(bugs)} known bugs, {len(unexpected)} unexpected"
    )
    return {
        "engine": engine,
        "passed": counts.get("passed", 0) + counts.get("xfail", 0),
        "skipped": counts.get("skipped", 0),
        "accepted": len(accepted),
        "failed": counting,
        "stale": len(stale),
        "bad": counting > 0 or (args.strict and bool(stale)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("labels", nargs="*", help=f"runtests labels (default: {' '.join(SUITES)})")
    parser.add_argument("--parallel", default="2", help="processes (runtests' --parallel)")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="app",
        help="app: the README's install (default); app-model-backend: the same with Django's\n"
        "ModelBackend instead of ThrottledModelBackend; baseline: without the app",
    )
    parser.add_argument(
        "--session-engine",
        default="db",
        help=f"SESSION_ENGINE: {', '.join(ENGINES)}, several with commas, or all (default: db)",
    )
    parser.add_argument("--expected", type=Path, default=EXPECTED, help="the expected list")
    parser.add_argument("--allow-known-bugs", action="store_true", help="accept 'bug' entries")
    parser.add_argument("--strict", action="store_true", help="fail on entries that now pass")
    parser.add_argument("-v", "--verbosity", default="1", help="runtests' verbosity")
    parser.add_argument("-k", action="append", default=[], help="runtests' -k (name patterns)")
    parser.add_argument("--python", default=sys.executable, help="the venv's python")
    args = parser.parse_args()
    args.python = os.path.abspath(args.python)  # not resolved: a venv's python is a link
    engines = ENGINES if args.session_engine == "all" else args.session_engine.split(",")
    if set(engines) - set(ENGINES):
        parser.error(f"--session-engine: one or more of {', '.join(ENGINES)}, or all")

    started = time.monotonic()
    version = django_version(args.python)
    try:
        tests = django_tests(args.python, version)
        ensure_needs(args.python)
    except subprocess.CalledProcessError as exc:
        log(f"could not get what the run needs: {exc}")
        return 2
    entries = read_expected(args.expected)
    labels = args.labels or SUITES
    tallies = [run(args, tests, version, engine, labels, entries) for engine in engines]

    print()
    for tally in tallies:
        if tally.get("broken"):
            log(f"{tally['engine']}: DID NOT RUN")
        else:
            verdict = "FAILED" if tally["bad"] else "ok"
            log(
                f"{tally['engine']}: {verdict} ({tally['passed']} passed, {tally['failed']} "
                f"failing, {tally['accepted']} accepted differences, {tally['skipped']} "
                f"skipped, {tally['stale']} stale entries)"
            )
    log(f"all done in {time.monotonic() - started:.0f} s")
    ran = [t for t in tallies if not t.get("broken")]
    passed, failed = sum(t["passed"] for t in ran), sum(t["failed"] for t in ran)
    print(f"{passed} passed, {failed} failed, {sum(t['skipped'] for t in ran)} skipped")
    if len(ran) < len(tallies):
        return 2
    return 1 if any(t["bad"] for t in ran) else 0


if __name__ == "__main__":
    sys.exit(main())
