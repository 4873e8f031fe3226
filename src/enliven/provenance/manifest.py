"""Signed C2PA manifests ("Content Credentials") in Enliven's MP4 and PNG outputs.

Each manifest says: the file was created (``c2pa.created``) by Enliven as
``compositeWithTrainedAlgorithmicMedia``; which portrait and driving clip went in,
as file name and sha256 only (``org.enliven.ingredients``: the media themselves
are never embedded, for the privacy of the people in them); and the settings used
(``org.enliven.settings``). No thumbnail is embedded.

Everything runs offline: no time-stamp authority, no OCSP, no remote manifests
and no remote trust lists (c2pa's network access is switched off and its host
allow-list emptied).

How :func:`read_manifest` maps c2pa's verdict:

* ``"absent"``: no manifest embedded in the file (c2pa: ManifestNotFound), or
  only a reference to a remote manifest, which is not fetched.
* ``"valid"``: c2pa's ``validation_state`` is ``Valid`` or ``Trusted`` and the
  only failure, if any, is ``signingCredential.untrusted``: the signature, the
  assertion hashes and the hard binding to the media (``assertion.dataHash`` for
  PNG, ``assertion.bmffHash`` for MP4) all verify. An untrusted signer (always
  so for a self-issued local certificate unless its CA is passed as a trust
  anchor) is listed in ``issues``.
* ``"invalid"``: anything else, e.g. ``assertion.bmffHash.mismatch`` after the
  media changed, ``claimSignature.mismatch``, or a manifest too damaged to parse.
"""

from __future__ import annotations

import json
import logging
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from enliven._version import __version__
from enliven.errors import InputError, OutputError
from enliven.io.atomic import atomic_path
from enliven.provenance.keys import SigningIdentity, load_or_create_identity
from enliven.provenance.metadata import file_sha256

log = logging.getLogger(__name__)

DIGITAL_SOURCE_TYPE = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/"
    "compositeWithTrainedAlgorithmicMedia"
)
CREATED = "c2pa.created"
INGREDIENTS_LABEL = "org.enliven.ingredients"
SETTINGS_LABEL = "org.enliven.settings"
SOFTWARE = "enliven"
BUILT_IN = "built-in"

# Failures that still leave a manifest "valid": the chain ends in no trust anchor
# we were given. Everything else c2pa reports as a failure makes it "invalid".
_TOLERATED_FAILURES = frozenset({"signingCredential.untrusted"})

# Shared by signing (which verifies what it wrote) and reading.
_OFFLINE = {
    "core": {"allowed_network_hosts": []},
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
}
_SIGN_SETTINGS = {**_OFFLINE, "builder": {"thumbnail": {"enabled": False}}}
# c2pa 0.38 keeps the asset it signs in memory: on MP4 files of 39 / 146 / 439 MB
# signing added 90 / 304 / 729 MB to the peak RSS. Told to use a file-backed
# store, it adds 51 / 158 / 404 MB. On a 731 MB file its default (357 MB) beats
# the store (486 MB), so files from this size on keep the default.
_BACKING_STORE_BELOW = 512 * 2**20


def _sign_settings(size: int) -> dict[str, object]:
    """The signing settings for a file of ``size`` bytes."""
    if size >= _BACKING_STORE_BELOW:
        return _SIGN_SETTINGS
    return {**_SIGN_SETTINGS, "core": {**_OFFLINE["core"], "backing_store_memory_threshold_in_mb": 1}}

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")  # BMFF uuid box
_SIGNABLE = ("image/png", "video/mp4", "video/quicktime")


@dataclass(frozen=True)
class ManifestReport:
    """What :func:`read_manifest` found in a file.

    state : "valid", "invalid" or "absent" (see the module docstring).
    claim_generator : e.g. "enliven 0.1.0" (name and version of the software that
        made the manifest).
    actions : action names, e.g. ["c2pa.created"].
    digital_source_type : IPTC URI of the first action that has one.
    ingredients : [{"title", "sha256", "role"}, ...] from Enliven's ingredient
        assertion (built-in material has no "sha256"); for manifests made by other
        software, the titles and relationships of their C2PA ingredients.
    settings : Enliven's settings assertion, or None.
    signer : common name and issuer of the signing certificate.
    issues : c2pa validation failures as "code: explanation", e.g.
        "signingCredential.untrusted: signing certificate untrusted".
    trusted : the signer chains to a trust anchor given to :func:`read_manifest`.
    """

    state: str
    claim_generator: str | None
    actions: list[str]
    digital_source_type: str | None
    ingredients: list[dict]
    settings: dict | None
    signer: str | None
    issues: list[str]
    trusted: bool = False


# ------------------------------------------------------------------- signing


def sign_file(
    path: Path,
    *,
    ingredients: dict[str, Path | None],
    settings: dict[str, object],
    identity: SigningIdentity | None = None,
    title: str | None = None,
) -> None:
    """Embed a signed C2PA manifest into the MP4 or PNG at ``path``, atomically.

    The signed file is written next to ``path`` and moved onto it; on failure
    ``path`` is left as it was.

    Parameters
    ----------
    path : Path
        An MP4 (or MOV) or PNG file, replaced by its signed copy.
    ingredients : dict of str to Path or None
        Role (e.g. "portrait", "driving") to input file, hashed with sha256 and
        named by file name only; ``None`` for built-in material (the demo).
    settings : dict
        The settings used; stored as JSON (values that JSON cannot hold are
        stored as their ``str``).
    identity : SigningIdentity, optional
        Default: the local identity (:func:`load_or_create_identity`).
    title : str, optional
        Title of the manifest; default the file name.

    Raises
    ------
    OutputError
        If the file is missing or of a type that cannot carry a manifest, or
        signing or writing fails.
    InputError
        If an ingredient file cannot be read (or from loading the identity).
    """
    path = Path(path)
    if not path.is_file():
        raise OutputError(f"cannot sign {path}: file not found; write the output first")
    try:
        media_type = _media_type(path)
    except OSError as exc:
        raise OutputError(
            f"cannot sign {path}: {exc.strerror or exc}; check its permissions"
        ) from exc
    if media_type not in _SIGNABLE:
        raise OutputError(
            f"cannot sign {path}: C2PA manifests are embedded in MP4, MOV and PNG "
            f"files only, not {path.suffix or 'this type'}; write .mp4 or .png"
        )
    identity = identity if identity is not None else load_or_create_identity()
    definition = _definition(
        title or path.name, media_type, _ingredient_records(ingredients), settings
    )
    start = time.perf_counter()
    context = builder = signer = None
    try:
        context = c2pa.Context.from_dict(_sign_settings(path.stat().st_size))
        signer = c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(
                identity.algorithm, identity.cert_chain_pem, identity.key_pem, None
            )
        )
        builder = c2pa.Builder(definition, context=context)
        with atomic_path(path) as tmp, path.open("rb") as src, tmp.open("w+b") as dst:
            builder.sign(signer, media_type, src, dst)
    except c2pa.C2paError as exc:
        raise OutputError(f"cannot sign {path}: {_one_line(exc)}{_hint(exc)}") from exc
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(
            f"cannot sign {path}: {exc.strerror or exc}; check free disk space and "
            "permissions"
        ) from exc
    finally:
        for resource in (builder, signer, context):
            if resource is not None:
                resource.close()
    log.info("signed %s (%s) in %.1f ms", path, media_type, _ms(start))


def _ingredient_records(ingredients: dict[str, Path | None]) -> list[dict[str, str]]:
    records = []
    for role, source in ingredients.items():
        if source is None:
            records.append({"title": BUILT_IN, "role": str(role)})
            continue
        source = Path(source)
        try:
            digest = file_sha256(source)
        except OSError as exc:
            raise InputError(
                f"cannot hash the {role} {source} for the manifest: "
                f"{exc.strerror or exc}; check that the file is still there"
            ) from exc
        records.append({"title": source.name, "sha256": digest, "role": str(role)})
    return records


def _definition(
    title: str,
    media_type: str,
    ingredients: list[dict[str, str]],
    settings: dict[str, object],
) -> dict[str, Any]:
    agent = {"name": SOFTWARE, "version": __version__}
    # Through JSON and back: paths, enums and the like become strings.
    settings_json = json.loads(json.dumps(settings, default=str))
    created = {
        "action": CREATED,
        "digitalSourceType": DIGITAL_SOURCE_TYPE,
        "softwareAgent": agent,
        "description": "a still portrait animated to follow a driving video",
    }
    return {
        "claim_generator_info": [agent],
        "title": title,
        "format": media_type,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [created]}},
            {"label": INGREDIENTS_LABEL, "data": {"ingredients": ingredients}},
            {"label": SETTINGS_LABEL, "data": settings_json},
        ],
    }


def _hint(exc: c2pa.C2paError) -> str:
    if isinstance(exc, c2pa.C2paError.Signature):
        return (
            "; check the signing key and certificate (C2PA needs an end-entity "
            "certificate with digitalSignature key usage, an emailProtection or "
            "documentSigning EKU and an authority key identifier, valid today)"
        )
    return "; the output is unsigned and left as it was"


# ------------------------------------------------------------------- reading


def read_manifest(path: Path, *, trust_anchors: bytes | None = None) -> ManifestReport:
    """Read and verify the C2PA manifest of a file, offline.

    Parameters
    ----------
    path : Path
        A media file (MP4, MOV, PNG, JPEG, ...).
    trust_anchors : bytes, optional
        PEM CA certificates to trust (e.g. ``signing-ca.pem`` of an Enliven
        installation); without them every signer is reported as untrusted.

    Returns
    -------
    ManifestReport
        ``state`` "absent" for a file without a manifest; never raises for that.

    Raises
    ------
    InputError
        If the file is missing, unreadable, or not a media type c2pa reads.
    """
    path = Path(path)
    if not path.is_file():
        reason = "it is a directory" if path.is_dir() else "file not found"
        raise InputError(f"cannot read {path}: {reason}; check the path")
    try:
        media_type = _media_type(path)
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror or exc}; check its permissions"
        ) from exc
    settings: dict[str, Any] = dict(_OFFLINE)
    if trust_anchors:
        settings["trust"] = {"user_anchors": _anchors_pem(trust_anchors)}
    context = reader = None
    try:
        context = c2pa.Context.from_dict(settings)
        with path.open("rb") as stream:
            try:
                reader = c2pa.Reader.try_create(media_type, stream, None, context)
                if reader is None:
                    return _absent()
                store = json.loads(reader.json())
                exact = _exact_assertions(reader, store.get("active_manifest"))
            except c2pa.C2paError as exc:
                return _unreadable(path, exc)
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror or exc}; check its permissions"
        ) from exc
    finally:
        for resource in (reader, context):
            if resource is not None:
                resource.close()
    return _report(store, exact)


def _exact_assertions(reader: c2pa.Reader, label: object) -> dict[str, Any]:
    """Enliven's own assertions of manifest ``label``, as stored.

    ``Reader.json()`` of c2pa-rs 0.91 renders any array of integers as base64
    bytes, truncating values over 255 (contentauth/c2pa-rs#2570): ``[64, 64]``
    comes back as ``"QEA="``. The data is stored correctly; ``crjson()`` renders
    it faithfully, so Enliven's assertions are taken from there.
    """
    try:
        document = json.loads(reader.crjson())
    except (c2pa.C2paError, ValueError):
        return {}
    for manifest in document.get("manifests", []):
        if isinstance(manifest, dict) and manifest.get("label") == label:
            assertions = manifest.get("assertions") or {}
            return {
                key: assertions[key]
                for key in (INGREDIENTS_LABEL, SETTINGS_LABEL)
                if key in assertions
            }
    return {}


def _absent(issues: list[str] | None = None) -> ManifestReport:
    return ManifestReport(
        state="absent", claim_generator=None, actions=[], digital_source_type=None,
        ingredients=[], settings=None, signer=None, issues=issues or [],
    )  # fmt: skip


def _unreadable(path: Path, exc: c2pa.C2paError) -> ManifestReport:
    """Map a c2pa error while reading to a report or an InputError."""
    message = _one_line(exc)
    if isinstance(exc, c2pa.C2paError.RemoteManifest) or message.startswith("Remote"):
        # c2pa-python 0.38 raises a plain C2paError("Remote: ...") here.
        return _absent(
            [f"manifest.remote: {message} (not fetched: reading is offline)"]
        )
    if isinstance(exc, (c2pa.C2paError.NotSupported, c2pa.C2paError.Io)):
        raise InputError(
            f"cannot read {path}: not a media file that can carry a C2PA manifest, "
            f"or damaged ({message}); give an MP4 or PNG file"
        ) from exc
    if _has_embedded_store(path):
        # The media is fine but its manifest is damaged: that is a verdict.
        return ManifestReport(
            state="invalid", claim_generator=None, actions=[],
            digital_source_type=None, ingredients=[], settings=None, signer=None,
            issues=[f"manifest.unreadable: {message}"],
        )  # fmt: skip
    raise InputError(
        f"cannot read {path}: {message}; the file is damaged or not a media file"
    ) from exc


def _report(store: dict[str, Any], exact: dict[str, Any]) -> ManifestReport:
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    assertions = manifest.get("assertions", [])
    actions: list[str] = []
    source_type = None
    for assertion in assertions:
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in (assertion.get("data") or {}).get("actions", []):
                actions.append(str(action.get("action")))
                if source_type is None and action.get("digitalSourceType"):
                    source_type = str(action["digitalSourceType"])
    ours = exact.get(INGREDIENTS_LABEL, _assertion_data(assertions, INGREDIENTS_LABEL))
    if isinstance(ours, dict) and isinstance(ours.get("ingredients"), list):
        ingredients = [dict(i) for i in ours["ingredients"] if isinstance(i, dict)]
    else:
        ingredients = [
            {"title": i.get("title"), "role": i.get("relationship")}
            for i in manifest.get("ingredients", [])
        ]
    settings = exact.get(SETTINGS_LABEL, _assertion_data(assertions, SETTINGS_LABEL))

    failures = [
        status
        for status in store.get("validation_status", [])
        if isinstance(status, dict)
    ]
    issues = list(
        dict.fromkeys(
            f"{s.get('code')}: {s.get('explanation')}"
            if s.get("explanation")
            else str(s.get("code"))
            for s in failures
        )
    )
    verdict = store.get("validation_state")
    codes = {str(s.get("code")) for s in failures}
    valid = verdict in ("Valid", "Trusted") and codes <= _TOLERATED_FAILURES
    return ManifestReport(
        state="valid" if valid else "invalid",
        claim_generator=_claim_generator(manifest),
        actions=actions,
        digital_source_type=source_type,
        ingredients=ingredients,
        settings=settings if isinstance(settings, dict) else None,
        signer=_signer(manifest.get("signature_info") or {}),
        issues=issues,
        trusted=valid and verdict == "Trusted",
    )


def _assertion_data(assertions: list[dict[str, Any]], label: str) -> Any:
    for assertion in assertions:
        if assertion.get("label") == label:
            return assertion.get("data")
    return None


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    infos = manifest.get("claim_generator_info") or []
    if infos and isinstance(infos[0], dict) and infos[0].get("name"):
        name, version = infos[0]["name"], infos[0].get("version")
        return f"{name} {version}" if version else str(name)
    generator = manifest.get("claim_generator")  # v1 claims
    return str(generator) if generator else None


def _signer(info: dict[str, Any]) -> str | None:
    name, issuer = info.get("common_name"), info.get("issuer")
    if name and issuer:
        return f"{name} (issued by {issuer})"
    return name or issuer or None


# ------------------------------------------------------------------- formats


def _media_type(path: Path) -> str | None:
    """MIME type from the first bytes (PNG, ISO BMFF, JPEG, WebP), else None."""
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(_PNG_MAGIC):
        return "image/png"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None  # let c2pa detect the type, or say it cannot


def _has_embedded_store(path: Path) -> bool:
    """Whether a PNG has a caBX chunk or an MP4 a top-level C2PA uuid box."""
    try:
        with path.open("rb") as f:
            head = f.read(16)
            if head.startswith(_PNG_MAGIC):
                return _png_has_store(f)
            if head[4:8] == b"ftyp":
                return _bmff_has_store(f)
    except OSError:
        return False
    return False


def _png_has_store(f: BinaryIO) -> bool:
    f.seek(len(_PNG_MAGIC))
    while header := f.read(8):
        if len(header) < 8:
            return False
        length, kind = struct.unpack(">I4s", header)
        if kind == b"caBX":
            return True
        if kind == b"IEND":
            return False
        f.seek(length + 4, 1)  # data and CRC
    return False


def _bmff_has_store(f: BinaryIO) -> bool:
    offset = 0
    while True:
        f.seek(offset)
        header = f.read(32)
        if len(header) < 8:
            return False
        size, kind = struct.unpack(">I4s", header[:8])
        body = 8
        if size == 1:  # 64-bit size follows
            if len(header) < 16:
                return False
            size = struct.unpack(">Q", header[8:16])[0]
            body = 16
        if kind == b"uuid" and header[body : body + 16] == _C2PA_UUID:
            return True
        if size < body:  # 0: box runs to the end of the file; < 8: damaged
            return False
        offset += size


# --------------------------------------------------------------------- misc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _anchors_pem(pem: bytes | str) -> str:
    """Trust anchors re-encoded as clean PEM (c2pa fails obscurely on bad input)."""
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InputError(
            f"cannot use the trust anchors: not PEM certificates ({exc}); give the "
            "PEM file of a CA, e.g. signing-ca.pem"
        ) from exc
    encoding = serialization.Encoding.PEM
    return b"".join(c.public_bytes(encoding) for c in certificates).decode("ascii")


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1e3
