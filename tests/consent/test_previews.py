"""Sample previews: only the person whose request it is (or an operator of the requesting organisation)
sees them; thumbnails are bounded and made once; recordings answer Range requests with the right bytes."""

import dataclasses
import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from consent import services
from consent.models import Sample
from consent.services import SampleInput
from tests.consent.conftest import portal_sign_in, request_input, wav_bytes

pytestmark = pytest.mark.django_db


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def big_photo_request(organization, operator):
    data = request_input()
    data.items[0] = dataclasses.replace(data.items[0], samples=[SampleInput("me.png", _png(2000, 1200))])
    return services.request_create(actor=operator, organization=organization, data=data)


def _urls(consent_request):
    face, voice = consent_request.items.order_by("position")
    base = f"/r/{consent_request.code}/items"
    return (
        f"{base}/{face.pk}/samples/{face.samples.get().pk}/",
        f"{base}/{voice.pk}/samples/{voice.samples.get().pk}/",
    )


@pytest.fixture
def opened(person_client, pending_request):
    person_client.get(f"/r/{pending_request.code}/")
    return person_client


def test_the_person_sees_a_bounded_thumbnail_of_their_photo_never_cached(person_client, big_photo_request):
    person_client.get(f"/r/{big_photo_request.code}/")
    image_url, _audio_url = _urls(big_photo_request)
    response = person_client.get(image_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "no-store"
    with Image.open(io.BytesIO(response.content)) as thumb:
        assert thumb.size == (480, 288)  # bounded, proportions kept


def test_a_thumbnail_is_made_once(person_client, big_photo_request):
    person_client.get(f"/r/{big_photo_request.code}/")
    image_url, _audio_url = _urls(big_photo_request)
    first = person_client.get(image_url).content
    sample = Sample.objects.get(kind="image", item__request=big_photo_request)
    assert default_storage.exists(f"previews/{sample.sha256}.jpg")
    sample.file.delete(save=False)  # the original is no longer read
    assert person_client.get(image_url).content == first


def test_an_image_past_the_pixel_limit_is_never_decoded(person_client, big_photo_request, settings):
    person_client.get(f"/r/{big_photo_request.code}/")
    settings.SAMPLE_MAX_PIXELS = 1_000_000  # lowered after the photo was accepted
    image_url, _audio_url = _urls(big_photo_request)
    assert person_client.get(image_url).status_code == 404


def test_the_recording_is_served_whole_with_its_type_and_range_support(opened, pending_request):
    _image_url, audio_url = _urls(pending_request)
    response = opened.get(audio_url)
    assert response.status_code == 200
    assert response.content == wav_bytes()
    assert response["Content-Type"] == "audio/wav" and response["Accept-Ranges"] == "bytes"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-50", -50, None), ("bytes=10-99999999", 10, None)],
)
def test_a_range_request_gets_206_with_exactly_those_bytes(opened, pending_request, header, first, last):
    _image_url, audio_url = _urls(pending_request)
    whole = wav_bytes()
    response = opened.get(audio_url, HTTP_RANGE=header)
    assert response.status_code == 206
    expected = whole[first:] if last is None else whole[first : last + 1]
    assert response.content == expected
    start = first if first >= 0 else len(whole) + first
    assert response["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{len(whole)}"


def test_an_unsatisfiable_range_gets_416(opened, pending_request):
    _image_url, audio_url = _urls(pending_request)
    response = opened.get(audio_url, HTTP_RANGE="bytes=999999-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(wav_bytes())}"


def test_another_verified_person_gets_404_for_a_sample(client_factory, opened, pending_request):
    from tests.consent.test_identity_data import OTHER_ID, valid_id

    client = client_factory()
    portal_sign_in(client, phone="+8613700000000")
    assert client.post("/identity/", {"legal_name": "王五", "id_number": valid_id(OTHER_ID)}).status_code == 302
    for url in _urls(pending_request):
        assert client.get(url).status_code == 404


def test_an_anonymous_visitor_gets_404_for_a_sample(client, pending_request):
    for url in _urls(pending_request):
        assert client.get(url).status_code == 404


def test_a_sample_under_another_item_of_the_same_request_is_404(opened, pending_request):
    _image_url, audio_url = _urls(pending_request)
    face, voice = pending_request.items.order_by("position")
    swapped = audio_url.replace(f"/items/{voice.pk}/", f"/items/{face.pk}/")
    assert opened.get(swapped).status_code == 404


def test_an_operator_of_the_requesting_organisation_sees_the_sample(operator_client, pending_request):
    sample = Sample.objects.get(kind="audio", item__request=pending_request)
    response = operator_client.get(f"/office/samples/{sample.pk}/")
    assert response.status_code == 200 and response.content == wav_bytes()
    assert response["Cache-Control"] == "no-store"


def test_an_operator_of_another_organisation_gets_404_for_a_sample(other_operator_client, pending_request):
    for sample in Sample.objects.filter(item__request=pending_request):
        assert other_operator_client.get(f"/office/samples/{sample.pk}/").status_code == 404


def test_an_anonymous_visitor_gets_404_for_an_office_sample(client, pending_request):
    sample = Sample.objects.filter(item__request=pending_request).first()
    assert client.get(f"/office/samples/{sample.pk}/").status_code == 404


def test_the_sample_selector_refuses_another_persons_sample(pending_request):
    """The ownership filter itself, so that removing it fails a test even when a view's guard still holds."""
    from django.http import Http404

    from consent.selectors import sample_get_for_person
    from identity.services import person_for_phone

    stranger = person_for_phone(phone="+8613700000000")
    face = pending_request.items.get(position=1)
    with pytest.raises(Http404):
        sample_get_for_person(
            person=stranger, code=pending_request.code, item_id=face.pk, sample_id=face.samples.get().pk
        )


def test_deleting_the_account_deletes_the_thumbnails_too(person_client, big_photo_request):
    person_client.get(f"/r/{big_photo_request.code}/")
    image_url, _audio_url = _urls(big_photo_request)
    assert person_client.get(image_url).status_code == 200
    sample = Sample.objects.get(kind="image", item__request=big_photo_request)
    services.person_delete(person=person_client.person)
    assert not default_storage.exists(f"previews/{sample.sha256}.jpg")


def test_a_thumbnail_made_twice_at_once_leaves_one_file(person_client, big_photo_request, monkeypatch):
    """Two requests that both found no thumbnail both store one; the storage renames the second copy,
    which account deletion would then miss."""
    from consent import previews

    person_client.get(f"/r/{big_photo_request.code}/")
    sample = Sample.objects.get(kind="image", item__request=big_photo_request)
    previews.thumbnail_bytes(sample)
    real_exists, calls = previews.default_storage.exists, []

    def exists_once_missing(name):  # the racing request looked before the first one stored its copy
        calls.append(name)
        return False if len(calls) == 1 else real_exists(name)

    monkeypatch.setattr(previews.default_storage, "exists", exists_once_missing)
    previews.thumbnail_bytes(sample)
    monkeypatch.undo()
    assert default_storage.listdir("previews")[1] == [f"{sample.sha256}.jpg"]
