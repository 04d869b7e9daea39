"""The recorded statement in real Chromium with a fake camera and microphone (the person's face and voice
come from files: a Y4M video of the astronaut photo and espeak-ng's WAV), then the grant with its evidence."""

import re
from fractions import Fraction

import numpy as np
import pytest
from playwright.sync_api import expect

from consent.builders import build_request, face_item, voice_item
from consent.models import RequestItem, Statement
from consent.services.requests import SampleInput
from tests.consent.conftest import PERSON_PHONE, last_code
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, TIMEOUT_MS, path_of
from tests.e2e.test_portal import signs_in_and_verifies_identity
from tests.likeness_media import SAMPLE_TEXT, STATEMENT, astronaut, png, requires_likeness, speech

pytestmark = [pytest.mark.e2e, pytest.mark.likeness, requires_likeness]


def write_y4m(path, rgb: np.ndarray, *, frames: int = 10, fps: int = 10) -> None:
    """A short raw YUV video of one photo (Chromium loops the file as the camera's picture)."""
    import av

    with av.open(str(path), mode="w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=fps)
        stream.height, stream.width = 480, 640
        stream.pix_fmt = "yuv420p"
        canvas = np.full((480, 640, 3), 200, np.uint8)
        face = rgb[:480, :512]
        canvas[: face.shape[0], 64 : 64 + face.shape[1]] = face
        frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
        for i in range(frames):
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture
def camera_page(browser, live_server, transactional_db, tmp_path):
    """A phone whose camera sees the astronaut and whose microphone hears espeak-ng's "en" voice."""
    video, audio = tmp_path / "camera.y4m", tmp_path / "microphone.wav"
    write_y4m(video, astronaut())
    audio.write_bytes(speech("en", STATEMENT))
    chromium = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
            f"--use-file-for-fake-audio-capture={audio}",
        ],
    )
    context = chromium.new_context(locale="en-US", permissions=["camera", "microphone"], **PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()
    chromium.close()


def test_the_person_records_the_statement_in_the_browser_and_then_grants(
    camera_page, live_server, organization, operator
):
    page = camera_page
    request = build_request(
        actor=operator,
        organization=organization,
        phone=PERSON_PHONE,
        items=[
            face_item(samples=[SampleInput("face.png", png(astronaut()))]),
            voice_item(samples=[SampleInput("voice.wav", speech("en", SAMPLE_TEXT))]),
        ],
        statement_required=True,
    )
    page.goto(f"{live_server.url}/r/{request.code}/")
    signs_in_and_verifies_identity(page)
    expect(page.get_by_role("button", name="Agree to this item")).to_have_count(0)
    page.get_by_role("link", name="Record your statement", exact=True).click()
    page.wait_for_url("**/statement/")
    expect(page.locator("#statement-text")).to_contain_text(organization.name)
    assert_accessible(page, "statement page")

    page.get_by_role("button", name="Start recording").click()
    expect(page.locator("#recorder-live")).to_be_visible()
    expect(page.locator("#recorder-status")).to_contain_text("Recording… 7 s", timeout=15_000)
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#recorder-status")).to_contain_text("Recorded")
    expect(page.locator("#recorder-preview")).to_be_visible()
    assert page.evaluate("document.getElementById('id_recording').files.length") == 1

    # The check runs eagerly here (a worker in production): the answer comes after it, in seconds.
    page.get_by_role("button", name="Send my statement").click(timeout=120_000)
    page.wait_for_url("**/statement/", timeout=120_000)
    statement = Statement.objects.get(request=request)
    assert statement.content_type == "video/webm" and statement.has_video
    assert statement.state == Statement.State.PASSED, statement.result.get("voice")
    expect(page.get_by_text("Your statement matches the samples")).to_be_visible()
    expect(page.locator("video[src$='/statement/recording/']")).to_be_visible()
    assert_accessible(page, "statement checked")

    page.get_by_role("link", name="Back to the request").click()
    page.locator("section.item").nth(0).get_by_role("button", name="Agree to this item").click()
    page.wait_for_url("**/grant/")
    page.get_by_label("6-digit code from the SMS").fill(last_code())
    page.get_by_role("button", name="Agree to this item").click()
    page.wait_for_url(lambda url: "#item-" in url)
    face = request.items.get(modality="face")
    assert face.state == RequestItem.State.GRANTED
    assert face.consent.evidence["statement"]["sha256"] == statement.sha256
    assert re.fullmatch(r"\d{6}", face.consent.evidence["statement"]["number"])
    assert path_of(page) == f"/r/{request.code}/"
