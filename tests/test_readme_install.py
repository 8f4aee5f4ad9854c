"""The README's "Adding it to your project", executed as written: its code blocks are read
from README.md itself and applied, in order, to a fresh ``django-admin startproject`` in a
virtualenv of its own, with the wheel built from this tree. ``check`` runs after every
step (the README promises that each leaves a working project); then the project is served
as the README says to try it (``runserver``), signed in to over HTTP from several devices,
and its pages, JSON API and admin are used. If the README changes, this follows it; if
the README is wrong, this fails.

How a block is applied, by its language and first line: ``sh`` lines are run (``pip
install django-sessions-mgmt`` installs the built wheel instead of the index's, ``python
manage.py …`` runs in the project); ``python`` blocks that begin ``# settings.py`` or ``#
urls.py`` are appended to that file of the project, as the README says; ``django`` blocks
that begin ``{# path #}`` are written to that path. Any other block in the section fails
the test: the section holds only what a reader must do. Runs with HOSTS=1.
"""

import re
import sys
from pathlib import Path

import pytest

from .conftest import MAC_CHROME
from .test_hosts import (
    PASSWORD,
    ROOT,
    Server,
    exercise,
    guesses_are_limited,
    host_env,
    run,
    sign_in,
)

pytestmark = pytest.mark.hosts

SECTION = "## Adding it to your project"
SECTION_END = "### Fitting it to your project"
STEP = re.compile(r"^### (\d+)\. (.+)$", re.M)
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def readme_steps(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The section's steps, in order: (title, [(language, code), ...])."""
    section = text.split(SECTION, 1)[1].split(SECTION_END, 1)[0]
    heads = list(STEP.finditer(section))
    assert heads, "the README's install section has no numbered steps"
    steps = []
    for n, head in enumerate(heads):
        assert int(head[1]) == n + 1, f"step {head[1]} is out of order"
        body = section[head.end() : heads[n + 1].start() if n + 1 < len(heads) else None]
        steps.append((head[2], [(m[1], m[2]) for m in BLOCK.finditer(body)]))
    return steps


class Host:
    """A virtualenv and, once the README has made one, a project in it."""

    def __init__(self, base: Path, wheel: Path) -> None:
        self.venv, self.wheel, self.project = base / "venv", wheel, base / "site"
        run(sys.executable, "-m", "venv", self.venv)
        run(self.venv / "bin" / "pip", "install", "-q", "--disable-pip-version-check", "Django")
        self.project.mkdir()
        run(self.venv / "bin" / "django-admin", "startproject", "host", self.project)

    def manage(self, *args: str) -> str:
        return run(
            self.venv / "bin" / "python",
            "manage.py",
            *args,
            cwd=self.project,
            env=host_env(self.venv),
        )

    def apply(self, language: str, code: str) -> None:
        first = code.splitlines()[0].strip()
        if language == "sh":
            for line in code.splitlines():
                self.shell(line.split("#", 1)[0].strip())
        elif language == "python" and first in ("# settings.py", "# urls.py"):
            with open(self.project / "host" / first[2:], "a") as f:
                f.write("\n" + code)
        elif language == "django" and (match := re.fullmatch(r"\{# (\S+) #\}", first)):
            path = self.project / match[1]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code)
        else:
            pytest.fail(f"the README's install section has a block no reader can apply:\n{code}")

    def shell(self, line: str) -> None:
        if not line:
            return
        if line == "pip install django-sessions-mgmt":
            pip = self.venv / "bin" / "pip"
            run(pip, "install", "-q", "--disable-pip-version-check", self.wheel)
        elif line.startswith("python manage.py "):
            self.manage(*line.split()[2:])
        else:
            pytest.fail(f"the README's install section runs a command this test cannot: {line}")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("readme-dist")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT)
    (built,) = dist.glob("django_sessions_mgmt-*.whl")
    return built


def test_the_readme_install_section_as_written(tmp_path, wheel):
    steps = readme_steps((ROOT / "README.md").read_text())
    host = Host(tmp_path, wheel)
    for title, blocks in steps:
        for language, code in blocks:
            host.apply(language, code)
        try:
            host.manage("check", "--fail-level", "WARNING")
        except AssertionError as failed:
            pytest.fail(f"after the README's step {title!r}, check fails:\n{failed}")

    # What the README then says to do: a superuser, runserver, sign in from two browsers.
    host.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; User = get_user_model(); "
        f"User.objects.create_superuser('alice', 'alice@example.com', {PASSWORD!r}); "
        f"User.objects.create_user('bob', password={PASSWORD!r})",
    )
    server = Server(host.venv, host.project, runserver=True)
    try:
        exercise(server)
        # The admin: staff (alice is the superuser) see every session there.
        staff = sign_in(server, MAC_CHROME)
        changelist = staff.get("/admin/sessions_mgmt/devicesession/")
        assert changelist.status == 200, changelist.body[:300]
        assert "Chrome on macOS" in changelist.body
        guesses_are_limited(server)
    finally:
        server.stop()


def test_the_readme_steps_are_read_from_the_readme():
    """The parser finds what the README holds: every step has a block, and the section
    installs, configures, migrates and schedules the job."""
    steps = readme_steps((ROOT / "README.md").read_text())
    assert all(blocks for _, blocks in steps)
    code = "\n".join(code for _, blocks in steps for _, code in blocks)
    for needed in ("pip install", "INSTALLED_APPS", "urlpatterns", "migrate", "--expired"):
        assert needed in code


def test_a_wrong_readme_fails(tmp_path):
    """The parser refuses a section a reader could not follow: steps out of order."""
    text = f"{SECTION}\n### 2. Two\n```sh\npython manage.py check\n```\n{SECTION_END}\n"
    with pytest.raises(AssertionError, match="out of order"):
        readme_steps(text)
