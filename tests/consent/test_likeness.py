"""The same-person check on real models: faces from packaged photos, voices from espeak-ng.

Marked `likeness`: skipped, with the reason, when the extra is not installed. The models load once per
test process (module-level caches), so these stay a few seconds on a quiet machine.
"""

import pickle

import numpy as np
import pytest

from consent.builders import build_request, face_item, voice_item
from consent.likeness import torchfile
from consent.models import RequestItem, Statement
from consent.services.requests import SampleInput
from tests.consent.conftest import PERSON_PHONE, last_code
from tests.likeness_media import (
    SAMPLE_TEXT,
    STATEMENT,
    astronaut,
    grace_hopper,
    png,
    recording,
    requires_likeness,
    speech,
)


def test_the_checkpoint_reader_refuses_a_pickle_that_asks_for_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        for header in (torchfile.MAGIC, torchfile.PROTOCOL, {}):
            pickle.dump(header, f, protocol=2)
        pickle.dump({"model_state": Evil()}, f, protocol=2)
    with pytest.raises(torchfile.CheckpointError, match=r"print, which a weights file never needs"):
        torchfile.load(path)


def test_the_checkpoint_reader_refuses_other_files(tmp_path):
    path = tmp_path / "x.pt"
    path.write_bytes(pickle.dumps(12345) + pickle.dumps(1001))
    with pytest.raises(torchfile.CheckpointError):
        torchfile.load(path)


@pytest.mark.likeness
@requires_likeness
def test_the_encoder_weights_load_as_a_three_layer_lstm():
    from consent.likeness import voice

    weights = voice.weights()
    assert weights["lstm.weight_ih_l0"].shape == (1024, 40)
    assert all(weights[f"lstm.weight_hh_l{n}"].shape == (1024, 256) for n in range(3))
    assert weights["linear.weight"].shape == (256, 256)
    assert all(np.isfinite(w).all() for w in weights.values())


@pytest.mark.likeness
@requires_likeness
def test_faces_of_the_same_person_are_closer_than_the_threshold_and_others_farther(settings):
    from consent.likeness import face

    photo = astronaut()
    same = face.embeddings(photo)[0]
    # The same face again, cropped and mirrored: another picture of the same person.
    again = face.embeddings(np.ascontiguousarray(photo[40:, ::-1]))[0]
    other = face.embeddings(grace_hopper())[0]
    threshold = settings.LIKENESS_FACE_MAX_DISTANCE
    assert same.shape == (128,)
    assert np.linalg.norm(same - again) < threshold < np.linalg.norm(same - other)


@pytest.mark.likeness
@requires_likeness
def test_voices_of_the_same_speaker_are_above_the_threshold_and_others_below(settings):
    from consent.likeness import media, vad, voice

    def embed(wav_bytes):
        wav = media.audio_16k(wav_bytes)
        return voice.embed(vad.speech_only(wav, vad.speech_probabilities(wav)))

    statement = embed(speech("en", STATEMENT))
    sample = embed(speech("en", SAMPLE_TEXT))
    other = embed(speech("en+f3", SAMPLE_TEXT))
    assert np.isclose(np.linalg.norm(statement), 1.0) and (statement >= 0).all()  # ReLU, then L2-normalised
    threshold = settings.LIKENESS_VOICE_MIN_SIMILARITY
    assert statement @ other < threshold < statement @ sample


@pytest.mark.likeness
@requires_likeness
def test_speech_is_found_in_speech_and_not_in_silence():
    from consent.likeness import media, vad

    spoken = vad.speech_seconds(vad.speech_probabilities(media.audio_16k(speech("en", STATEMENT))))
    silent = vad.speech_seconds(vad.speech_probabilities(np.zeros(16000 * 3, np.float32)))
    assert spoken > 3 and silent == 0


def _statement_request(organization, operator, face_photo, voice_name):
    items = [
        face_item(samples=[SampleInput("face.png", png(face_photo))]),
        voice_item(samples=[SampleInput("voice.wav", speech(voice_name, SAMPLE_TEXT))]),
    ]
    return build_request(
        actor=operator, organization=organization, phone=PERSON_PHONE, items=items, statement_required=True
    )


def _upload(person_client, request, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    person_client.get(f"/r/{request.code}/statement/")
    return person_client.post(
        f"/r/{request.code}/statement/", {"recording": SimpleUploadedFile("s.mp4", content, "video/mp4")}
    )


@pytest.mark.likeness
@requires_likeness
def test_the_same_person_passes_and_the_evidence_goes_into_the_consent(person_client, organization, operator):
    request = _statement_request(organization, operator, astronaut(), "en")
    assert _upload(person_client, request, recording(astronaut(), speech("en", STATEMENT))).status_code == 302
    statement = Statement.objects.get(request=request)
    assert statement.state == Statement.State.PASSED, statement.result
    assert statement.result["face"]["distance"] < statement.result["face"]["max_distance"]
    assert statement.result["voice"]["similarity"] > statement.result["voice"]["min_similarity"]
    assert statement.has_video and 5 < statement.duration_seconds < 8

    face = request.items.get(modality="face")
    person_client.post(f"/r/{request.code}/items/{face.pk}/code/")
    person_client.post(f"/r/{request.code}/items/{face.pk}/grant/", {"code": last_code()})
    face.refresh_from_db()
    assert face.state == RequestItem.State.GRANTED
    evidence = face.consent.evidence["statement"]
    assert evidence["sha256"] == statement.sha256 and evidence["outcome"] == "passed"
    assert {"face", "voice", "speech", "timings"} <= set(evidence["check"])
    assert evidence["check"]["face"]["model"].startswith("dlib")


@pytest.mark.likeness
@requires_likeness
def test_another_person_is_held_for_review_never_granted(person_client, organization, operator):
    request = _statement_request(organization, operator, grace_hopper(), "en+f3")
    _upload(person_client, request, recording(astronaut(), speech("en", STATEMENT)))
    statement = Statement.objects.get(request=request)
    assert statement.state == Statement.State.NEEDS_REVIEW
    assert statement.result["failures"] == ["face_mismatch", "voice_mismatch"]
    page = person_client.get(f"/r/{request.code}/")
    assert b"could not confirm" in page.content
    assert not request.items.filter(state=RequestItem.State.GRANTED).exists()


@pytest.mark.likeness
@requires_likeness
def test_a_damaged_recording_is_refused_with_a_message(person_client, organization, operator):
    request = _statement_request(organization, operator, astronaut(), "en")
    damaged = recording(astronaut(), speech("en", STATEMENT))[:2000]
    response = _upload(person_client, request, damaged)
    assert response.status_code == 400
    assert b"cannot be played" in response.content or b"at least" in response.content
    assert Statement.objects.get(request=request).state == Statement.State.AWAITING
