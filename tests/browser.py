"""What the browser tests share: launching Debian's Chromium through Playwright, and
axe-core's accessibility check (injected into the page under test)."""

from .conftest import AXE, CHROMIUM

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
#: WCAG 2.1 levels A and AA, the rules axe-core tags with them (colour contrast included).
WCAG21AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)


def axe_violations(page, *, tags: list[str] | None = None, impacts=("serious", "critical")):
    """axe-core's violations on ``page`` as it is now: of every rule, or only those with
    ``tags``; of the given impacts (``None``: all). The page's CSP must allow the injected
    script (a context with ``bypass_csp=True``)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    options = {"runOnly": {"type": "tag", "values": tags}} if tags else {}
    results = page.evaluate("async (options) => await axe.run(document, options)", options)
    return [v for v in results["violations"] if impacts is None or v["impact"] in impacts]


def overflows_sideways(page) -> bool:
    """Whether the page scrolls horizontally (wider than its viewport)."""
    return page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
