"""Screenshots of each screen the e2e tests walk through, kept for review under test-output/ (git-ignored)."""

from tests.conftest import REPO

SCREENSHOTS = REPO / "test-output" / "screenshots"


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
