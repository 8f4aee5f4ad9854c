"""The documentation site (mkdocs.yml, docs/) builds with warnings as errors, and documents
what the code has: every ``SESSIONS_MGMT_*`` setting with its default and the system check
that validates it, every public callable of ``sessions_mgmt.services``, and every signal.
The lists come from the code, so a new setting, function or signal without its
documentation fails here."""

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.dispatch import Signal

from sessions_mgmt import checks, conf, services, signals, throttle

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def page(name: str) -> str:
    return (DOCS / name).read_text()


def literal(value) -> str:
    """A default as the settings page writes it: Python, with double-quoted strings."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def effective_default(name: str) -> list[str]:
    """What the settings page must give as the default of ``SESSIONS_MGMT_<name>``: the
    value the app uses when the setting is not set."""
    default = conf.DEFAULTS[name]
    if default is None and name in conf.URL_DEFAULTS:  # allauth's name, or Django's
        return [literal(value) for value in conf.URL_DEFAULTS[name]]
    if name == "PASSWORD_LIMITS":  # the keys given override throttle's defaults
        return [literal({**throttle.DEFAULT_LIMITS, **default})]
    return [literal(default)]


def setting_section(text: str, name: str) -> str:
    """The section of the settings page headed by the setting's name, up to the next
    heading."""
    heading = re.search(rf"^#+ `SESSIONS_MGMT_{name}`\s*$", text, re.M)
    assert heading, f"docs/settings.md has no section headed `SESSIONS_MGMT_{name}`"
    rest = text[heading.end() :]
    following = re.search(r"^#", rest, re.M)
    return rest[: following.start()] if following else rest


def names_validated_by_e005() -> set[str]:
    """The settings ``checks._setting_problems`` validates (``sessions_mgmt.E005``): each
    ``app_settings.<NAME>`` it reads and each setting name it spells out."""
    tree = ast.parse(inspect.getsource(checks._setting_problems))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in conf.DEFAULTS:
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and node.value in conf.DEFAULTS:
            names.add(node.value)
    return names


# The build.


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    # Not --quiet: it would hide the warnings that --strict counts.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "index.html").exists()
    assert (tmp_path / "openapi.yaml").exists()  # the API's description is published


def test_every_page_under_docs_is_in_the_navigation():
    config = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^strict: true$", config, re.M)
    for path in DOCS.glob("*.md"):
        assert re.search(rf":\s+{re.escape(path.name)}\s*$", config, re.M), path.name


# Settings.


def test_every_setting_is_documented_with_its_default():
    text = page("settings.md")
    assert conf.DEFAULTS, "no settings found in sessions_mgmt/conf.py"
    for name in conf.DEFAULTS:
        section = setting_section(text, name)
        default_line = re.search(r"^- \*\*Default:\*\*(.*(?:\n  .*)*)", section, re.M)
        assert default_line, f"SESSIONS_MGMT_{name}: no **Default:** line"
        for value in effective_default(name):
            assert f"`{value}`" in default_line[1], (
                f"SESSIONS_MGMT_{name}: the default is {value}, the page says{default_line[1]}"
            )
        summary = re.search(rf"^\| \[`SESSIONS_MGMT_{name}`\]\(#[^)]*\) \|(.*)\|$", text, re.M)
        assert summary, f"SESSIONS_MGMT_{name} is missing from the table at the top"
        for value in effective_default(name):
            assert f"`{value}`" in summary[1], f"SESSIONS_MGMT_{name}: the table's default"


def test_every_setting_names_its_type_and_the_check_that_validates_it():
    text = page("settings.md")
    validated = names_validated_by_e005()
    assert validated, "found no setting validated by sessions_mgmt.E005"
    for name in conf.DEFAULTS:
        section = setting_section(text, name)
        assert re.search(r"^- \*\*Type:\*\* \S", section, re.M), f"SESSIONS_MGMT_{name}: type"
        checked = re.search(r"^- \*\*Checked by:\*\*(.*(?:\n  .*)*)", section, re.M)
        assert checked, f"SESSIONS_MGMT_{name}: no **Checked by:** line"
        says_e005 = "sessions_mgmt.E005" in checked[1]
        assert says_e005 == (name in validated), (
            f"SESSIONS_MGMT_{name}: {'is' if name in validated else 'is not'} validated by "
            f"sessions_mgmt.E005, but the page says: {checked[1].strip()}"
        )
        if name in conf.URL_DEFAULTS:  # checks.check_url_settings reverses each of them
            assert "sessions_mgmt.E004" in checked[1], f"SESSIONS_MGMT_{name}: E004"


def test_no_setting_is_documented_that_the_app_does_not_have():
    documented = set(re.findall(r"SESSIONS_MGMT_([A-Z_]+)", page("settings.md")))
    assert documented <= set(conf.DEFAULTS) | {""}, documented - set(conf.DEFAULTS)


# The public Python API and the signals.


def public_callables_of_services() -> list[str]:
    """Every public name of ``sessions_mgmt.services`` that can be called: defined there or
    re-exported from the app's own modules (not what it imports from Django or the
    standard library for its own use)."""
    names = []
    for name, value in vars(services).items():
        if name.startswith("_") or inspect.ismodule(value) or not callable(value):
            continue
        if (getattr(value, "__module__", None) or "").startswith("sessions_mgmt"):
            names.append(name)
    return sorted(names)


def test_every_public_callable_of_services_is_documented():
    text = page("python-api.md")
    found = public_callables_of_services()
    assert {"revoke", "revoke_others", "list_devices", "SessionStoreError"} <= set(found)
    missing = [name for name in found if not re.search(rf"`(services\.)?{name}[`(]", text)]
    assert not missing, f"docs/python-api.md does not document: {missing}"


def test_nothing_internal_is_documented_as_public():
    text = page("python-api.md")
    for line in text.splitlines():
        if "sessions_mgmt.internal" in line:
            assert "not public" in line or "Nothing under" in line, line


def test_every_signal_is_documented():
    text = page("signals.md")
    found = sorted(name for name, value in vars(signals).items() if isinstance(value, Signal))
    assert found, "no signals found in sessions_mgmt/signals.py"
    missing = [name for name in found if not re.search(rf"^#+ `{name}`\s*$", text, re.M)]
    assert not missing, f"docs/signals.md has no section for: {missing}"


def test_every_reason_of_session_revoked_is_documented():
    text = page("signals.md")
    reasons = [
        name
        for name, value in vars(services).items()
        if name.isupper()
        and isinstance(value, str)
        and name not in ("END_OLDEST", "DENY_NEW", "SESSION_KEY")
    ]
    assert "USER" in reasons and "GONE" in reasons
    for name in reasons:
        value = getattr(services, name)
        assert re.search(rf'^\| `"{value}"` \| `{name}` \|', text, re.M), name


# Words a reader cannot know.


@pytest.mark.parametrize(
    "name",
    [
        "index.md",
        "install.md",
        "settings.md",
        "api.md",
        "command.md",
        "signals.md",
        "python-api.md",
        "deployment.md",
        "how-it-works.md",
        "security.md",
        "development.md",
    ],
)
def test_pages_speak_to_readers_not_to_the_issue_tracker(name):
    text = page(name)
    assert not re.search(r"\bissues? \d+|\bthe seed\b", text, re.I), name
    assert not re.search(r"\bdaily\b", text) or name == "deployment.md", (
        "the pruning job runs hourly: say so, and why, on the deployment page"
    )


def _install_blocks(text: str, start: str, end: str, step: str) -> list[tuple[str, str]]:
    section = text.split(start, 1)[1].split(end, 1)[0]
    assert re.search(step, section, re.M), "no numbered steps"
    return re.findall(r"^```(\w+)\n(.*?)^```$", section, re.M | re.S)


def test_the_install_guide_has_the_readmes_steps_word_for_word():
    """The README's install steps are executed by tests/test_readme_install.py; the
    site's install guide repeats them, and must not drift from what is tested."""
    readme = _install_blocks(
        (ROOT / "README.md").read_text(),
        "## Adding it to your project",
        "### Fitting it to your project",
        r"^### 1\. ",
    )
    guide = _install_blocks(
        (DOCS / "install.md").read_text(), "# Install", "## Fitting it to your project", r"^## 1\. "
    )
    assert readme and guide == readme
