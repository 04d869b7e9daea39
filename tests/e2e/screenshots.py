"""Every screen an e2e test walks through: fits a phone, passes axe, and leaves a screenshot for review
under test-output/ (git-ignored)."""

from tests.conftest import REPO
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import PHONE

SCREENSHOTS = REPO / "test-output" / "screenshots"


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def fits_the_phone(page) -> None:
    """No sideways scrolling at the test phone's width, nor on the narrowest phones still common (360 px)."""
    size = page.viewport_size
    for width in (PHONE["viewport"]["width"], 360):
        page.set_viewport_size({"width": width, "height": PHONE["viewport"]["height"]})
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"the page scrolls sideways at {width}"
    page.set_viewport_size(size)


def fits_the_desktop(page) -> None:
    """Office pages are for desktops: no sideways scrolling at the browser's own (desktop) width."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"the page scrolls sideways at {width}"


def check_screen(page, name: str, *, desktop: bool = False) -> None:
    """`desktop=True` for back-office pages, which are checked at the desktop width instead of a phone's."""
    page.wait_for_load_state("load")
    if desktop:
        fits_the_desktop(page)
    else:
        fits_the_phone(page)
    screenshot(page, name)
    assert_accessible(page, name)
