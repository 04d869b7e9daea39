"""Accessibility checks in the real browser: axe-core, from a local file, over the page as the person sees it.

axe-core comes bundled in the `axe-playwright-python` wheel (dev extra, installed by `make`), so the tests
need no network and no npm. It is injected with `page.evaluate`, which the page's Content-Security-Policy
does not govern, so the policy stays as strict in tests as in production.
"""

from functools import cache
from pathlib import Path

# WCAG 2.0, 2.1 and 2.2, levels A and AA: the bar the portal promises. Best-practice rules are left out.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING_IMPACTS = {"serious", "critical"}


@cache
def axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def violations(page) -> list[dict]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", WCAG_AA
    )
    return results["violations"]


def describe(violation: dict) -> str:
    nodes = "\n".join(
        f"    {' '.join(node['target'])}: {node.get('failureSummary', '').splitlines()[-1].strip()}"
        for node in violation["nodes"][:5]
    )
    more = len(violation["nodes"]) - 5
    return f"  [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})\n{nodes}" + (
        f"\n    … and {more} more" if more > 0 else ""
    )


def assert_accessible(page, name: str) -> None:
    """Fail on any serious or critical WCAG 2.2 AA violation axe-core finds on the page as it is now."""
    found = [v for v in violations(page) if v["impact"] in FAILING_IMPACTS]
    assert not found, f"{name} ({page.url}): {len(found)} serious or critical accessibility violations:\n" + "\n".join(
        describe(v) for v in found
    )
