"""Issue 22 §7: the package is ready to publish. The sdist and the wheel (built from the
sdist, as ``python -m build`` does) pass ``twine check --strict``; the wheel carries the
app's data (templates, static files, compiled translations, migrations, ``py.typed``) and
nothing else; the sdist leaves the tests out (they need the repository's conftest,
settings, test app and demo site); the metadata has the project's URLs, a development
status and a long description whose links and images work on a package index page.

Builds once per session (about 10 s, fetching setuptools for the isolated build), so it
runs with the host projects: HOSTS=1, which ``make test`` sets for one run of the matrix.
"""

import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

pytestmark = pytest.mark.hosts

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sessions_mgmt"
REPOSITORY = "https://github.com/sessions-mgmt/django-sessions-mgmt"


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


@pytest.fixture(scope="session")
def dists(tmp_path_factory) -> tuple[Path, Path]:
    """The sdist and the wheel built from this tree (isolated; without isolation if the
    isolated build could not fetch its setuptools, which then must be installed here)."""
    out = tmp_path_factory.mktemp("dist")
    built = run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    if built.returncode != 0:
        isolated = built
        built = run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT)
        assert built.returncode == 0, (
            f"the build failed:\n{isolated.stdout}\n{isolated.stderr}\n"
            f"and without isolation:\n{built.stdout}\n{built.stderr}"
        )
    (sdist,) = out.glob("django_sessions_mgmt-*.tar.gz")
    (wheel,) = out.glob("django_sessions_mgmt-*-py3-none-any.whl")
    return sdist, wheel


def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return z.namelist()


def sdist_names(sdist: Path) -> list[str]:
    """The sdist's members, without its top directory (``django_sessions_mgmt-0.2.0/``)."""
    with tarfile.open(sdist) as t:
        return [name.partition("/")[2] for name in t.getnames() if "/" in name]


def wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(z.read(name).decode())


def sdist_metadata(sdist: Path):
    with tarfile.open(sdist) as t:
        (member,) = [m for m in t.getmembers() if m.name.count("/") == 1 and "PKG-INFO" in m.name]
        return Parser().parsestr(t.extractfile(member).read().decode())


def test_twine_check_strict_passes_on_the_wheel_and_the_sdist(dists):
    result = run(sys.executable, "-m", "twine", "check", "--strict", *dists)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_wheel_is_typed(dists):
    _, wheel = dists
    assert "sessions_mgmt/py.typed" in wheel_names(wheel)


def test_the_wheel_carries_the_templates_static_files_translations_and_migrations(dists):
    _, wheel = dists
    names = set(wheel_names(wheel))
    for folder in ("templates", "static", "migrations"):
        expected = {
            path.relative_to(ROOT).as_posix()
            for path in (PACKAGE / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
        assert expected, folder
        assert expected <= names, f"{folder}: missing {sorted(expected - names)}"
    catalogs = sorted(PACKAGE.glob("locale/*/LC_MESSAGES/django.po"))
    assert catalogs
    for po in catalogs:
        mo = po.with_suffix(".mo").relative_to(ROOT).as_posix()
        assert mo in names, f"{mo} is not in the wheel"


def test_the_wheel_holds_the_package_and_nothing_else(dists):
    _, wheel = dists
    strays = [
        name
        for name in wheel_names(wheel)
        if not name.startswith(("sessions_mgmt/", "django_sessions_mgmt-"))
    ]
    assert strays == []
    names = wheel_names(wheel)
    for other in ("tests/", "config/", "accounts/", "bench/", "docs/"):
        assert not any(name.startswith(other) for name in names), other


def test_the_sdist_leaves_the_tests_and_the_demo_out(dists):
    sdist, _ = dists
    names = sdist_names(sdist)
    for other in ("tests/", "config/", "accounts/", "bench/", "scripts/"):
        assert not any(name.startswith(other) for name in names), (
            other,
            [name for name in names if name.startswith(other)][:5],
        )
    # What the wheel is built from, and what a reader of the sdist looks for.
    for needed in ("pyproject.toml", "LICENSE", "DESCRIPTION.md", "CHANGELOG.md"):
        assert needed in names
    assert "sessions_mgmt/py.typed" in names


@pytest.mark.parametrize("which", ["wheel", "sdist"])
def test_the_metadata_has_the_project_urls_and_a_development_status(dists, which):
    sdist, wheel = dists
    metadata = wheel_metadata(wheel) if which == "wheel" else sdist_metadata(sdist)
    urls = dict(value.split(", ", 1) for value in metadata.get_all("Project-URL", []))
    assert urls == {
        "Homepage": REPOSITORY,
        "Documentation": f"{REPOSITORY}/tree/main/docs",
        "Source": REPOSITORY,
        "Changelog": f"{REPOSITORY}/blob/main/CHANGELOG.md",
        "Issues": f"{REPOSITORY}/issues",
    }
    classifiers = metadata.get_all("Classifier", [])
    status = [c for c in classifiers if c.startswith("Development Status ::")]
    assert status == ["Development Status :: 4 - Beta"]
    assert "Typing :: Typed" in classifiers


# Every URL a Markdown long description can hold: [text](url), ![alt](url), <url>,
# [label]: url, and HTML's src= / href=.
LINKS = re.compile(
    r"\]\(\s*<?(?P<inline>[^)\s>]+)"
    r"|<(?P<auto>[a-z][a-z0-9+.-]*:[^>\s]+)>"
    r"|^\s{0,3}\[[^\]]+\]:\s*<?(?P<ref>\S+?)>?(?:\s|$)"
    r"|(?:src|href)\s*=\s*[\"'](?P<html>[^\"']+)",
    re.MULTILINE | re.IGNORECASE,
)


def test_links_finds_every_kind_of_url():
    text = (
        "![a](docs/a.png) [b](<b.md>) <https://c.example> "
        "<img src=\"d.png\"> <a href='e.html'>\n[f]: f.md\n"
    )
    found = [next(g for g in m.groups() if g) for m in LINKS.finditer(text)]
    assert found == ["docs/a.png", "b.md", "https://c.example", "d.png", "e.html", "f.md"]


@pytest.mark.parametrize("which", ["wheel", "sdist"])
def test_the_long_description_has_only_absolute_urls(dists, which):
    sdist, wheel = dists
    metadata = wheel_metadata(wheel) if which == "wheel" else sdist_metadata(sdist)
    assert metadata.get("Description-Content-Type", "").startswith("text/markdown")
    description = metadata.get_payload()
    assert "see and end every session" in description
    urls = [next(g for g in m.groups() if g) for m in LINKS.finditer(description)]
    assert urls, "the long description links to the project"
    relative = [url for url in urls if not url.startswith("https://")]
    assert relative == []
