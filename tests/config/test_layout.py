"""The layout rule (README "Layout"): dependencies point one way, consent → identity → audit, and the consent
core imports none of its surfaces (api/, portal/, office/, public/). Checked by parsing the code, not by grep,
so that a new module is covered the day it is added."""

import ast
import importlib
import inspect
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import Resolver404, resolve

from tests.conftest import enrol_totp, subprocess_env, totp_now
from tests.consent.conftest import last_code

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"
SURFACES = ("consent.api", "consent.portal", "consent.office", "consent.public")
URL_TAG = re.compile(r"""{%\s*url\s+['"]([\w-]+):""")
LOAD_TAG = re.compile(r"{%\s*load\s+([^%]+)%}")
TEMPLATE_REF = re.compile(r"""{%\s*(?:extends|include)\s+['"]([^'"]+)['"]""")
# A literal site path: in an attribute, a tag's output or between template tags (`%}/me/{%`).
LITERAL_PATH = re.compile(r"""(?:["'>]|%})(/[\w\-./]*)""")


def _modules(package: str):
    for path in sorted((REPO / package).rglob("*.py")):
        yield ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"), path


def _imports(module: str, path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved, `from a import b` counted as a.b too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _strings(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def _under(name: str, packages) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _consent_url_namespaces() -> set[str]:
    namespaces = set()
    for _module, path in _modules("consent"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "app_name" for t in node.targets):
                namespaces.add(node.value.value)
    return namespaces


def _consent_route(path: str) -> str | None:
    """The consent view a literal path leads to, if it is one."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.func.__module__ if match.func.__module__.startswith("consent.") else None


def _identity_templates() -> set[str]:
    """The templates identity's views render, and every template those extend or include."""
    todo = {s for _m, path in _modules("identity") for s in _strings(path) if s.endswith((".html", ".txt"))}
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen or not (TEMPLATES / name).exists():
            continue
        seen.add(name)
        todo.update(TEMPLATE_REF.findall((TEMPLATES / name).read_text()))
    return seen


def test_the_consent_core_imports_no_surface():
    offences = [
        f"{module} imports {name}"
        for module, path in _modules("consent")
        if not _under(module, SURFACES)
        for name in _imports(module, path)
        if _under(name, SURFACES)
    ]
    offences += [
        f"{module} names {text!r}"
        for module, path in _modules("consent")
        if not _under(module, SURFACES)
        for text in _strings(path)
        if _under(text, SURFACES)
    ]
    assert offences == []


def test_identity_imports_nothing_from_consent_and_audit_nothing_from_either():
    offences = [
        f"{module} imports {name}"
        for module, path in _modules("identity")
        for name in _imports(module, path)
        if _under(name, ["consent"])
    ]
    offences += [
        f"{module} imports {name}"
        for module, path in _modules("audit")
        for name in _imports(module, path)
        if _under(name, ["consent", "identity"])
    ]
    assert offences == []


def test_the_error_family_sits_below_every_app():
    """audit raises a member (PurgeRefused), so the base may import none of the apps."""
    offences = [
        f"{module} imports {name}"
        for module, path in _modules("errors")
        for name in _imports(module, path)
        if _under(name, ["audit", "identity", "consent", "config"])
    ]
    assert offences == []


# Internal failures, never shown to a caller as such: a retry signal, a tampering alarm, a programming error.
INTERNAL_EXCEPTIONS = {
    "identity.crypto.DecryptionError",  # a missing key or a forged ciphertext: a 500 and an alert, not a message
    "identity.gateway.GatewayUnavailable",  # tasks retry on it; services turn it into VerifierUnavailable
    "identity.gateway.GatewayRejected",  # recorded on the notification, never raised to a person
    "consent.netguard.AddressRefused",  # the webhook service turns it into a field error
    "audit.models.AppendOnlyError",  # code tried to edit the log
    "audit.verify.BadCheckpoint",  # the audit_verify command turns it into its exit status
    "audit.note.NoteError",  # a malformed or forged signed note: verifiers turn it into their own answer
    "consent.likeness.media.MediaError",  # the statement service turns it into StatementInvalid or "undecodable"
    "consent.likeness.torchfile.CheckpointError",  # a broken or tampered model file: a 500 and an alert
    "consent.backup.BackupError",  # the backup_dump / backup_restore commands turn it into a CommandError
}


def test_every_other_exception_an_app_defines_is_in_the_application_error_family():
    strays = []
    for package in ("audit", "identity", "consent"):
        for module, path in _modules(package):
            for node in ast.walk(ast.parse(path.read_text())):
                bases = {getattr(base, "id", getattr(base, "attr", "")) for base in getattr(node, "bases", [])}
                if isinstance(node, ast.ClassDef) and bases & {"Exception", "ValueError", "RuntimeError"}:
                    strays.append(f"{module}.{node.name}")
    assert set(strays) == INTERNAL_EXCEPTIONS


def test_identity_code_names_no_consent_module_url_or_route():
    namespaces = _consent_url_namespaces()
    assert {"portal", "consent_office", "verify", "artifacts"} <= namespaces  # the scan sees consent's URLs
    offences = []
    for module, path in _modules("identity"):
        for text in _strings(path):
            if _under(text, ["consent"]) or (":" in text and text.split(":")[0] in namespaces):
                offences.append(f"{module} names {text!r}")
            elif text.startswith("/") and _consent_route(text.split("?")[0]):
                offences.append(f"{module} links to {text!r}, a consent page")
    assert offences == []


def test_identity_templates_name_no_consent_url_route_or_tag_library():
    templates = _identity_templates()
    assert {"office/login.html", "portal/signin.html", "portal/base.html", "base.html"} <= templates
    namespaces = _consent_url_namespaces()
    libraries = {path.stem for path in (REPO / "consent" / "templatetags").glob("*.py")} - {"__init__"}
    offences = []
    for name in sorted(templates):
        text = (TEMPLATES / name).read_text()
        offences += [f"{name}: url {ns}:…" for ns in URL_TAG.findall(text) if ns in namespaces]
        offences += [f"{name}: load {lib}" for tag in LOAD_TAG.findall(text) for lib in tag.split() if lib in libraries]
        offences += [f"{name}: path {p}" for p in LITERAL_PATH.findall(text) if _consent_route(p)]
    assert offences == []


@pytest.mark.slow  # a fresh process that loads every app, as a worker does
def test_the_worker_registers_the_render_task_under_its_old_name(tmp_path):
    """Celery autodiscovers `<app>.tasks`; the records' task lives in consent.records.tasks and must be found
    by a worker that imported nothing else, under the name queued messages carry."""
    script = (
        "import django; django.setup()\n"
        "from config.celery import app\n"
        "app.loader.import_default_modules()\n"
        "print('consent.artifact_tasks.artifact_render_task' in app.tasks)\n"
    )
    env = subprocess_env(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1:] == ["True"], result.stderr[-2000:]


@pytest.mark.django_db
def test_the_api_package_registers_its_api_key_scheme_in_the_schema(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "API key `prefix.secret` from the back-office",
    }


@pytest.mark.django_db
@override_settings(PORTAL_HOME_URL="/elsewhere/")
def test_a_person_signing_in_lands_on_the_home_the_portal_names(client):
    client.post("/signin/", {"phone": "+8613912345678"})
    response = client.post("/signin/code/", {"code": last_code("+8613912345678")})
    assert response.status_code == 302 and response["Location"] == "/elsewhere/"
    assert 'class="brand" href="/elsewhere/"' in client.get("/identity/").content.decode()


@pytest.mark.django_db
@override_settings(OFFICE_HOME_URL="/office/requests/")
def test_an_operator_signing_in_lands_on_the_home_the_office_names(client, operator):
    from tests.conftest import OPERATOR_PASSWORD

    device = enrol_totp(operator)
    device.last_t = -1
    device.save(update_fields=["last_t"])
    client.post("/office/login/", {"username": operator.username, "password": OPERATOR_PASSWORD})
    response = client.post("/office/otp/", {"token": totp_now(device)})
    assert response.status_code == 302 and response["Location"] == "/office/requests/"
    assert 'class="brand" href="/office/requests/"' in client.get("/office/login/").content.decode()


def test_the_office_dashboard_is_a_consent_office_page():
    assert resolve("/office/").func.__module__ == "consent.office.views"
    assert resolve("/office/").namespace == "consent_office"


SERVICES_PACKAGES = ("identity.services", "consent.services")


@pytest.mark.parametrize("package", SERVICES_PACKAGES)
def test_every_services_module_declares_what_it_exports(package):
    missing = []
    for module, path in _modules(package.replace(".", "/")):
        if module == package:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        names = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        if "__all__" not in names:
            missing.append(module)
    assert missing == []


@pytest.mark.parametrize("package", SERVICES_PACKAGES)
def test_a_services_package_exports_only_its_own_services_and_constants(package):
    """`from identity.services import User` must not work: callers import models, Django and helpers from home."""
    exported = importlib.import_module(package)
    foreign = []
    for name, value in vars(exported).items():
        if name.startswith("_"):
            continue
        if inspect.ismodule(value):
            if not value.__name__.startswith(f"{package}."):
                foreign.append(name)
        elif inspect.isfunction(value) or inspect.isclass(value):
            if not value.__module__.startswith(f"{package}."):
                foreign.append(name)
        elif not (name.isupper() and isinstance(value, int | str | float | timedelta)):
            foreign.append(name)
    assert foreign == []


def test_a_function_level_import_in_app_code_says_which_cycle_it_breaks():
    """Imports belong at the top of a module; the few that must wait name the cycle on the line or just above."""
    silent = []
    for package in ("audit", "config", "consent", "identity"):
        for module, path in _modules(package):
            if ".migrations." in module:
                continue
            lines = path.read_text().splitlines()
            for node in ast.walk(ast.parse("\n".join(lines), filename=str(path))):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        here, above = lines[inner.lineno - 1], lines[inner.lineno - 2]
                        if "#" not in here and not above.strip().startswith("#"):
                            silent.append(f"{module}:{inner.lineno}")
    assert silent == []
