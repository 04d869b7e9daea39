"""Independent tools against the running test server (pytest-django `live_server`), marked `conformance`.

- openapi-python-client generates a Python client from the served schema; one call with it verifies a token.
- openapi-typescript generates TypeScript types from the served schema; `tsc` type-checks a use of them.
- schemathesis runs every check it has (`--checks all`) with a valid API key: zero failures.

They take a minute or two, so `make test` leaves them out; `make test-conformance` (and .ci/run) runs them.
"""

import hashlib
import importlib
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from consent import services
from consent.api.auth import ApiKeyRateThrottle
from consent.builders import build_granted_consent, build_request, build_verified_person
from consent.models import ApiKey
from tests.consent.conftest import PERSON_PHONE, png_bytes

pytestmark = [pytest.mark.conformance, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TYPESCRIPT_TOOLS = REPO / "tools" / "openapi-typescript" / "node_modules" / ".bin"
FACE_SHA256 = hashlib.sha256(png_bytes()).hexdigest()


@pytest.fixture
def served(live_server, organization, operator, monkeypatch):
    """The live server, a key with every scope, and a granted consent whose token verifies."""
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "100000/min"})
    _key, value = services.api_key_create(
        actor="test", organization=organization, name="conformance", scopes=ApiKey.Scope.values
    )
    person = build_verified_person(phone=PERSON_PHONE)
    consent = build_granted_consent(
        person=person, request=build_request(actor=operator, organization=organization, phone=PERSON_PHONE)
    )
    return {"url": live_server.url, "key": value, "consent": consent}


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, **kwargs)


def test_a_client_generated_by_openapi_python_client_verifies_a_token(served, tmp_path):
    generator = BIN / "openapi-python-client"
    if not generator.exists():
        pytest.skip("openapi-python-client is not installed: `pip install -e '.[dev]'` installs it")
    package = "likeness_generated_client"
    # Fetched here with a generous timeout (the generator's own fetch gives up after 5 s on a busy machine).
    schema = tmp_path / "schema.json"
    with urllib.request.urlopen(f"{served['url']}/api/v1/schema/?format=json", timeout=60) as response:  # noqa: S310
        schema.write_bytes(response.read())
    output = str(tmp_path / package)
    result = run(
        [str(generator), "generate", "--path", str(schema), "--meta", "none", "--output-path", output], cwd=tmp_path
    )
    assert (tmp_path / package / "client.py").exists(), result.stdout + result.stderr
    assert "Unable to" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module(f"{package}.client")
        verify = importlib.import_module(f"{package}.api.tokens.token_verify")
        models = importlib.import_module(f"{package}.models")
        client = client_module.AuthenticatedClient(base_url=served["url"], token=served["key"])
        body = models.TokenVerifyInputRequest(
            token=served["consent"].token.value,
            modality=models.ModalityEnum.FACE,
            operation=models.OperationEnum.FACE_SWAP,
            media_sha256=FACE_SHA256,
        )
        answer = verify.sync(client=client, body=body)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.startswith(package)]:
            del sys.modules[name]
    assert answer.active is True
    assert answer.cid == served["consent"].pk
    assert answer.mod == models.ModalityEnum.FACE


def test_types_generated_by_openapi_typescript_type_check(served, tmp_path):
    generator, tsc = TYPESCRIPT_TOOLS / "openapi-typescript", TYPESCRIPT_TOOLS / "tsc"
    if not (generator.exists() and tsc.exists()):
        pytest.skip(
            "openapi-typescript is not installed: `make test-conformance` runs npm ci in tools/openapi-typescript"
        )
    schema = tmp_path / "schema.json"
    with urllib.request.urlopen(f"{served['url']}/api/v1/schema/?format=json", timeout=30) as response:  # noqa: S310
        schema.write_bytes(response.read())
    result = run([str(generator), str(schema), "-o", str(tmp_path / "api.d.ts")])
    assert result.returncode == 0, result.stdout + result.stderr
    (tmp_path / "use.ts").write_text(
        'import type { components, paths } from "./api";\n'
        'type Answer = paths["/api/v1/tokens/verify"]["post"]["responses"][200]["content"]["application/json"];\n'
        'const answer: Answer = { active: true, cid: 1, mod: "face", ops: ["face_swap"], media: [] };\n'
        'const body: components["schemas"]["TokenVerifyInputRequest"] = '
        '{ token: "a.b.c", modality: "voice", operation: "voice_cloning" };\n'
        "// @ts-expect-error: the schema says a token is a string\n"
        'const wrong: components["schemas"]["TokenVerifyInputRequest"] = '
        '{ token: 1, modality: "face", operation: "face_swap" };\n'
        "export { answer, body, wrong };\n"
    )
    result = run([str(tsc), "--noEmit", "--strict", "--skipLibCheck", "--module", "es2020", str(tmp_path / "use.ts")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_schemathesis_finds_nothing_with_every_check(served, tmp_path):
    schemathesis = BIN / "schemathesis"
    if not schemathesis.exists():
        pytest.skip("schemathesis is not installed: `pip install -e '.[dev]'` installs it")
    report = tmp_path / "junit.xml"
    config = str(Path(__file__).with_name("schemathesis.toml"))
    options = ["--checks", "all", "--header", f"Authorization: Bearer {served['key']}"]
    options += ["--max-examples", "30", "--seed", "1", "--workers", "1"]
    options += ["--report", "junit", "--report-junit-path", str(report)]
    result = run(
        [str(schemathesis), "--config-file", config, "run", f"{served['url']}/api/v1/schema/?format=json", *options],
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "SCHEMATHESIS_HOOKS": ""},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert " passed" in output and "failed" not in output.split("SUMMARY")[-1], output[-3000:]
