"""Inputs that would cost memory: uploads stop being stored at the sample limit, bodies are capped,
samples and items are counted, and an image's pixel count is read from its header, never decoded."""

import base64
import json
import struct
import tracemalloc
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from consent import services
from consent.errors import InvalidRequest
from consent.models import ConsentRequest, Sample
from consent.samples import sniff_sample
from consent.services import SampleInput
from tests.consent.conftest import png_bytes, request_input, wav_bytes
from tests.consent.test_api import api, body, create, key_for
from tests.consent.test_office import form_data

pytestmark = pytest.mark.django_db

LIMIT = 64 * 1024


class SpyHandler(FileUploadHandler):
    """Sits after the limit handler and counts what would be stored."""

    received = 0

    def receive_data_chunk(self, raw_data, start):
        SpyHandler.received += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


@pytest.fixture
def spy(settings):
    settings.SAMPLE_MAX_BYTES = LIMIT
    settings.FILE_UPLOAD_HANDLERS = [
        settings.FILE_UPLOAD_HANDLERS[0],
        "tests.consent.test_uploads.SpyHandler",
        *settings.FILE_UPLOAD_HANDLERS[1:],
    ]
    SpyHandler.received = 0
    return SpyHandler


@pytest.fixture
def service(organization):
    return api(key_for(organization))


def big_png(size: int) -> bytes:
    return png_bytes() + b"\x00" * (size - len(png_bytes()))


def png_header(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes that announces width × height pixels (a decompression bomb's header)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


# ---- streaming uploads --------------------------------------------------------------------------


def test_an_oversized_multipart_sample_is_a_413_and_is_not_stored_past_the_limit(service, spy):
    payload = body()
    payload["items"][0]["samples"] = []
    response = service.post(
        "/api/v1/requests",
        {"payload": json.dumps(payload), "items[0].samples": SimpleUploadedFile("huge.png", big_png(40 * LIMIT))},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="big",
    )
    assert response.status_code == 413
    assert response.json()["code"] == "sample_too_large"
    assert "huge.png" in response.json()["fields"]["items[0].samples[0]"][0]
    assert spy.received <= LIMIT  # 2.5 MB went by, at most the limit was kept
    assert not ConsentRequest.objects.exists() and not Sample.objects.exists()


def test_a_multipart_sample_at_the_limit_is_accepted(service, spy):
    payload = body()
    payload["items"][0]["samples"] = []
    response = service.post(
        "/api/v1/requests",
        {"payload": json.dumps(payload), "items[0].samples": SimpleUploadedFile("ok.png", big_png(LIMIT))},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="ok",
    )
    assert response.status_code == 201, response.json()
    assert Sample.objects.get().size == LIMIT


def test_an_oversized_base64_sample_is_a_413_before_it_is_decoded(service, settings):
    settings.SAMPLE_MAX_BYTES = LIMIT
    payload = body()
    payload["items"][0]["samples"] = [
        {"name": "big.png", "content_base64": base64.b64encode(big_png(2 * LIMIT)).decode()}
    ]
    response = create(service, payload)
    assert response.status_code == 413
    assert response.json()["code"] == "sample_too_large"
    assert not ConsentRequest.objects.exists()


def test_the_office_form_names_an_oversized_sample_without_storing_it(operator_client, spy):
    huge = SimpleUploadedFile("huge.png", big_png(40 * LIMIT), content_type="image/png")
    response = operator_client.post("/office/requests/new/", form_data(**{"items-0-samples": huge}))
    assert response.status_code == 200
    assert "huge.png is larger than" in response.context["items"].forms[0].errors["samples"][0]
    assert spy.received <= LIMIT + len(wav_bytes())  # item 2's small WAV passes through whole
    assert not ConsentRequest.objects.exists()


def test_the_verify_page_still_takes_a_pdf_larger_than_a_sample(client, settings):
    settings.SAMPLE_MAX_BYTES = 1024
    pdf = b"%PDF-1.7\n" + b"%" * 4096
    response = client.post("/verify/", {"file": SimpleUploadedFile("r.pdf", pdf, "application/pdf")})
    assert response.status_code == 200
    assert response.context["form"].is_valid()  # read in full and checked, not cut off at the sample limit


# ---- the body cap -------------------------------------------------------------------------------


def test_a_body_over_the_cap_is_a_json_413_under_the_api(service, settings):
    settings.REQUEST_BODY_MAX_BYTES = 1000
    response = service.post(
        "/api/v1/requests", data="x" * 1001, content_type="application/json", HTTP_IDEMPOTENCY_KEY="cap"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert set(response.json()) == {"code", "message", "fields"}


def test_a_body_over_the_cap_is_a_plain_413_elsewhere(client, settings):
    settings.REQUEST_BODY_MAX_BYTES = 1000
    response = client.post("/verify/", data="x" * 1001, content_type="application/octet-stream")
    assert response.status_code == 413
    assert "too large" in response.content.decode()


def test_the_default_cap_holds_four_full_samples_in_base64_and_the_verify_upload():
    from django.conf import settings

    assert settings.REQUEST_BODY_MAX_BYTES >= 4 * settings.SAMPLE_MAX_BYTES * 4 // 3
    assert settings.REQUEST_BODY_MAX_BYTES > 10 * 1024 * 1024
    assert settings.FILE_UPLOAD_HANDLERS[0] == "consent.uploads.UploadSizeLimitHandler"


# ---- counts -------------------------------------------------------------------------------------


def test_more_samples_than_allowed_per_item_is_refused_by_the_service(organization, operator, settings):
    settings.SAMPLES_MAX_PER_ITEM = 2
    data = request_input()
    data.items[0].samples = [SampleInput(f"{i}.png", png_bytes(i)) for i in range(3)]
    with pytest.raises(InvalidRequest) as caught:
        services.request_create(actor=operator, organization=organization, data=data)
    assert caught.value.fields["items[0].samples"] == ["At most 2 samples per item."]
    assert not ConsentRequest.objects.exists()


def test_more_items_than_allowed_is_refused_by_the_service(organization, operator, settings):
    settings.REQUEST_MAX_ITEMS = 1
    with pytest.raises(InvalidRequest) as caught:
        services.request_create(actor=operator, organization=organization, data=request_input())
    assert caught.value.fields["items"] == ["At most 1 items per request."]


def test_the_api_counts_samples_before_decoding_them(service, settings):
    settings.SAMPLES_MAX_PER_ITEM = 2
    payload = body()
    payload["items"][0]["samples"] = payload["items"][0]["samples"] * 3
    response = create(service, payload)
    assert response.status_code == 400
    assert response.json()["fields"]["items[0].samples"] == ["At most 2 samples per item."]


# ---- pixels -------------------------------------------------------------------------------------


def test_a_png_announcing_9400_by_9400_pixels_is_refused_from_its_header():
    bomb = png_header(9400, 9400)
    assert len(bomb) < 100
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError) as caught:
            sniff_sample(bomb)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "too large" in caught.value.messages[0]
    assert peak < 1024 * 1024  # decoding would take 88 million pixels


def test_an_image_just_under_the_pixel_limit_passes(settings):
    settings.SAMPLE_MAX_PIXELS = 100 * 100
    assert sniff_sample(png_header(100, 100)) == ("image", "image/png")
    with pytest.raises(ValidationError):
        sniff_sample(png_header(100, 101))


def test_an_image_with_a_broken_header_is_refused():
    with pytest.raises(ValidationError) as caught:
        sniff_sample(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    assert "cannot be read" in caught.value.messages[0]


def test_the_api_refuses_a_pixel_bomb_as_a_field_error(service):
    payload = body()
    payload["items"][0]["samples"] = [
        {"name": "bomb.png", "content_base64": base64.b64encode(png_header(9400, 9400)).decode()}
    ]
    response = create(service, payload)
    assert response.status_code == 400
    assert "too large" in response.json()["fields"]["items[0].samples[0]"][0]
    assert not ConsentRequest.objects.exists()
