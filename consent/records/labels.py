"""Chinese and English labels for the bilingual records.

A record always shows both languages, whatever the reader's language, so the pairs are fixed here
rather than looked up through the active translation.
"""

from datetime import datetime

from django.utils import timezone

LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "modality": {"face": ("人脸", "face"), "voice": ("声音", "voice")},
    "operation": {
        "face_generation": ("人脸生成", "face generation"),
        "face_swap": ("人脸替换", "face swap"),
        "attribute_editing": ("人脸属性编辑", "face attribute editing"),
        "face_manipulation": ("人脸操控", "face manipulation"),
        "pose_manipulation": ("姿态操控", "pose manipulation"),
        "voice_cloning": ("声音克隆", "voice cloning"),
        "voice_conversion": ("声音转换", "voice conversion"),
        "speech_synthesis": ("语音合成", "speech synthesis"),
    },
    "end_user": {
        "mobile": ("移动电话号码", "mobile number"),
        "id_number": ("身份证件号码", "identity document number"),
        "uscc": ("统一社会信用代码", "unified social credit code"),
        "national_network_id": ("国家网络身份认证", "national network identity authentication"),
    },
    "check_method": {
        "checksum_only": (
            "仅校验证件号码（开发环境，未经权威核验）",
            "ID number checksum only (development, no authority)",
        ),
        "carrier_three_element": ("运营商三要素核验", "carrier three-element check (name, ID, phone)"),
        "police_two_element": ("公安二要素核验", "public security two-element check (name, ID)"),
    },
    "outcome": {
        "matched": ("一致", "matched"),
        "not_matched": ("不一致", "not matched"),
        "unavailable": ("无法核验", "unavailable"),
    },
    "relationship": {"parent": ("父母", "parent"), "legal_guardian": ("其他法定监护人", "other legal guardian")},
    "sample": {"image": ("图像", "image"), "audio": ("音频", "audio")},
}


def bilingual(group: str, value: str) -> dict[str, str]:
    """{"zh": …, "en": …} for a stored code; an unknown code shows as itself in both languages."""
    zh, en = LABELS[group].get(value, (value, value))
    return {"zh": zh, "en": en}


def check_labels(evidence: dict | None) -> dict | None:
    """A real-name check's evidence (IdentityCheck.as_evidence) with its method and outcome labelled."""
    if not evidence:
        return None
    return {
        **evidence,
        "method": bilingual("check_method", evidence.get("method", "")),
        "outcome": bilingual("outcome", evidence.get("outcome", "")),
        "time": when(datetime.fromisoformat(evidence["time"])) if evidence.get("time") else "",
    }


def when(value: datetime | None) -> str:
    """A moment as the records print it: local time with its offset."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S (UTC%z)") if value else ""
