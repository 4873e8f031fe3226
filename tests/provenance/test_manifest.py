"""Signed C2PA manifests: signing, reading back, tampering, and the local keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import c2pa
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization

from enliven._version import __version__
from enliven.errors import ConfigError, InputError, OutputError
from enliven.io.image import load_image, read_png_text, save_png
from enliven.io.video import VideoWriter
from enliven.provenance import keys
from enliven.provenance.keys import (
    CA_FILE,
    CERT_FILE,
    KEY_FILE,
    SigningIdentity,
    config_dir,
    load_or_create_identity,
)
from enliven.provenance.manifest import (
    DIGITAL_SOURCE_TYPE,
    ManifestReport,
    read_manifest,
    sign_file,
)

FRAMES = 10
# For the tests that call c2pa directly: no network, ever.
OFFLINE = {
    "core": {"allowed_network_hosts": []},
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    "builder": {"thumbnail": {"enabled": False}},
}
SETTINGS = {
    "fps": 25.0,
    # Arrays of numbers: c2pa's Reader.json() garbles them (c2pa-rs#2570).
    "size_wh": [64, 64],
    "range": [-2, 300, 70000],
    "weights": [0.5, 2],
    "mouth_gain": 1.0,
    "smoothing": {"window": 5, "enabled": True},
    "note": "hello-enliven",
    "seed": None,
}


def _frame(i: int) -> np.ndarray:
    y, x = np.mgrid[0:64, 0:64]
    r = (x * 4 + i * 8) % 256
    g = (y * 4) % 256
    b = ((x + y) * 2 + i * 16) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def _write_mp4(path: Path) -> Path:
    with VideoWriter(path, (64, 64), 25) as writer:
        for i in range(FRAMES):
            writer.write(_frame(i))
    return path


def _count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _boxes(data: bytes) -> dict[str, tuple[int, int]]:
    """Top-level ISO BMFF boxes: type -> (offset, size)."""
    found, offset = {}, 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        found.setdefault(kind.decode("latin-1"), (offset, size))
        if size < 8:
            break
        offset += size
    return found


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hidden(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".")]


@pytest.fixture
def identity(tmp_path: Path) -> SigningIdentity:
    return load_or_create_identity(directory=tmp_path / "config")


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """A portrait PNG and a driving MP4 to name as ingredients."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    portrait = folder / "portrait.png"
    save_png(portrait, _frame(3))
    driving = _write_mp4(folder / "driving.mp4")
    return {"portrait": portrait, "driving": driving}


@pytest.fixture
def outputs(tmp_path: Path) -> dict[str, Path]:
    """An unsigned MP4 and PNG, as the pipeline writes them."""
    folder = tmp_path / "out"
    folder.mkdir()
    mp4 = _write_mp4(folder / "animated.mp4")
    png = folder / "still.png"
    save_png(png, _frame(5), text={"Comment": "synthetic"})
    return {"mp4": mp4, "png": png}


def _sign(path: Path, inputs: dict[str, Path], identity: SigningIdentity) -> float:
    start = time.perf_counter()
    sign_file(path, ingredients=dict(inputs), settings=SETTINGS, identity=identity)
    return (time.perf_counter() - start) * 1e3


# ------------------------------------------------------------ sign and read


@pytest.mark.parametrize("kind", ["mp4", "png"])
def test_signed_output_reads_back_valid(
    kind: str, outputs, inputs, identity, tmp_path: Path
) -> None:
    path = outputs[kind]
    ms = _sign(path, inputs, identity)
    # Timing is reported, never asserted (pytest -s shows it).
    print(f"signing a {path.stat().st_size} byte {kind.upper()} took {ms:.1f} ms")  # noqa: T201

    report = read_manifest(path)
    assert isinstance(report, ManifestReport)
    assert report.state == "valid"
    assert report.actions == ["c2pa.created"]
    assert report.digital_source_type == DIGITAL_SOURCE_TYPE
    assert report.claim_generator == f"enliven {__version__}"
    assert report.settings == SETTINGS
    assert report.ingredients == [
        {"title": "portrait.png", "sha256": _sha256(inputs["portrait"]),
         "role": "portrait"},
        {"title": "driving.mp4", "sha256": _sha256(inputs["driving"]),
         "role": "driving"},
    ]  # fmt: skip
    assert report.signer is not None and "Enliven" in report.signer
    # A self-issued certificate verifies but is not trusted: said, not hidden.
    assert report.trusted is False
    assert [i.split(":")[0] for i in report.issues] == ["signingCredential.untrusted"]
    assert _hidden(path.parent) == []


def test_software_agent_names_enliven_and_version(outputs, inputs, identity) -> None:
    _sign(outputs["mp4"], inputs, identity)
    context = c2pa.Context.from_dict(OFFLINE)
    with outputs["mp4"].open("rb") as stream:
        reader = c2pa.Reader("video/mp4", stream, None, context)
        manifest = reader.get_active_manifest()
        reader.close()
    actions = next(
        a["data"]["actions"]
        for a in manifest["assertions"]
        if a["label"].startswith("c2pa.actions")
    )
    assert actions[0]["softwareAgent"] == {"name": "enliven", "version": __version__}
    assert manifest["claim_generator_info"][0]["name"] == "enliven"
    # Ingredients are hashes and titles only: nothing of the media is embedded.
    assert "ingredients" not in manifest or manifest["ingredients"] == []
    assert not any(
        a["label"].startswith("c2pa.thumbnail") for a in manifest["assertions"]
    )


def test_mp4_still_decodes_after_signing(outputs, inputs, identity) -> None:
    mp4 = outputs["mp4"]
    assert _count_frames(mp4) == FRAMES
    _sign(mp4, inputs, identity)
    assert _count_frames(mp4) == FRAMES
    assert "uuid" in _boxes(mp4.read_bytes())


def test_png_pixels_and_text_survive_signing(outputs, inputs, identity) -> None:
    png = outputs["png"]
    _sign(png, inputs, identity)
    assert np.array_equal(load_image(png), _frame(5))
    assert read_png_text(png) == {"Comment": "synthetic"}


def test_built_in_ingredient_has_title_and_no_hash(outputs, identity) -> None:
    sign_file(
        outputs["png"], ingredients={"portrait": None, "driving": None},
        settings={}, identity=identity, title="demo",
    )  # fmt: skip
    report = read_manifest(outputs["png"])
    assert report.state == "valid"
    assert report.ingredients == [
        {"title": "built-in", "role": "portrait"},
        {"title": "built-in", "role": "driving"},
    ]
    assert report.settings == {}


def test_local_ca_as_trust_anchor_makes_it_trusted(
    outputs, inputs, identity, tmp_path: Path
) -> None:
    _sign(outputs["png"], inputs, identity)
    anchors = (tmp_path / "config" / CA_FILE).read_bytes()
    report = read_manifest(outputs["png"], trust_anchors=anchors)
    assert report.state == "valid"
    assert report.trusted is True
    assert report.issues == []


def test_bad_trust_anchors_raise_input_error(outputs, inputs, identity) -> None:
    _sign(outputs["png"], inputs, identity)
    with pytest.raises(InputError, match="trust anchors"):
        read_manifest(outputs["png"], trust_anchors=b"not a certificate")


def test_default_identity_comes_from_config_dir_env(
    outputs, inputs, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ENLIVEN_CONFIG_DIR", str(tmp_path / "env-config"))
    sign_file(outputs["png"], ingredients={"portrait": None}, settings={})
    assert (tmp_path / "env-config" / KEY_FILE).is_file()
    assert read_manifest(outputs["png"]).state == "valid"


# ----------------------------------------------------------- absent / invalid


@pytest.mark.parametrize("kind", ["mp4", "png"])
def test_unsigned_file_reads_absent(kind: str, outputs) -> None:
    report = read_manifest(outputs[kind])
    assert report.state == "absent"
    assert report.actions == [] and report.ingredients == [] and report.issues == []


def test_mp4_modified_after_signing_reads_invalid(outputs, inputs, identity) -> None:
    mp4 = outputs["mp4"]
    _sign(mp4, inputs, identity)
    data = bytearray(mp4.read_bytes())
    offset, size = _boxes(bytes(data))["mdat"]
    data[offset + size // 2] ^= 0xFF  # one byte deep inside the media data
    mp4.write_bytes(bytes(data))

    report = read_manifest(mp4)
    assert report.state == "invalid"
    assert any(i.startswith("assertion.bmffHash.mismatch") for i in report.issues)
    assert report.actions == ["c2pa.created"]  # still readable, just not valid


def test_png_modified_after_signing_reads_invalid(outputs, inputs, identity) -> None:
    png = outputs["png"]
    _sign(png, inputs, identity)
    data = bytearray(png.read_bytes())
    idat = data.index(b"IDAT")
    data[idat + 20] ^= 0xFF
    png.write_bytes(bytes(data))
    report = read_manifest(png)
    assert report.state == "invalid"
    assert any(i.startswith("assertion.dataHash.mismatch") for i in report.issues)


def test_edited_settings_assertion_reads_invalid(outputs, inputs, identity) -> None:
    mp4 = outputs["mp4"]
    _sign(mp4, inputs, identity)
    data = mp4.read_bytes()
    assert data.count(b"hello-enliven") == 1
    mp4.write_bytes(data.replace(b"hello-enliven", b"HELLO-enliven"))
    report = read_manifest(mp4)
    assert report.state == "invalid"
    assert report.issues != []


def test_damaged_manifest_reads_invalid_not_error(outputs, inputs, identity) -> None:
    png = outputs["png"]
    _sign(png, inputs, identity)
    data = bytearray(png.read_bytes())
    start = data.index(b"caBX") + 4
    data[start + 40 : start + 240] = bytes(200)  # wipe part of the JUMBF store
    png.write_bytes(bytes(data))
    assert read_manifest(png).state == "invalid"


def test_remote_manifest_is_not_fetched(outputs, identity, tmp_path: Path) -> None:
    # A file that only points at a manifest on a server: reading stays offline.
    definition = {
        "claim_generator_info": [{"name": "other"}],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE}]}}],
    }  # fmt: skip
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo("es256", identity.cert_chain_pem, identity.key_pem, None)
    )
    builder = c2pa.Builder(definition, context=c2pa.Context.from_dict(OFFLINE))
    builder.set_no_embed()
    builder.set_remote_url("http://127.0.0.1:9/manifest.c2pa")
    remote = tmp_path / "remote.png"
    with outputs["png"].open("rb") as src, remote.open("w+b") as dst:
        builder.sign(signer, "image/png", src, dst)
    report = read_manifest(remote)
    assert report.state == "absent"
    assert "127.0.0.1" in report.issues[0]


@pytest.mark.parametrize(
    "content", [b"", b"not a video at all" * 10, b"\x89PNG\r\n\x1a\n" + b"\x00" * 7]
)
def test_unreadable_file_raises_input_error(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"broken\.mp4"):
        read_manifest(path)


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_manifest(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="directory"):
        read_manifest(tmp_path)


# ------------------------------------------------------------ signing errors


def test_sign_unsupported_type_raises_and_keeps_file(identity, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(OutputError, match=r"notes\.txt"):
        sign_file(path, ingredients={}, settings={}, identity=identity)
    assert path.read_text() == "hello"


def test_sign_missing_file_raises(identity, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="not found"):
        sign_file(tmp_path / "gone.mp4", ingredients={}, settings={}, identity=identity)


def test_sign_with_mismatched_key_leaves_file_untouched(
    outputs, tmp_path: Path
) -> None:
    first = load_or_create_identity(directory=tmp_path / "a")
    second = load_or_create_identity(directory=tmp_path / "b")
    wrong = SigningIdentity(first.key_pem, second.cert_chain_pem, "es256")
    mp4 = outputs["mp4"]
    before = mp4.read_bytes()
    with pytest.raises(OutputError, match=r"cannot sign .*animated\.mp4") as info:
        sign_file(mp4, ingredients={}, settings={}, identity=wrong)
    assert "\n" not in str(info.value)
    assert mp4.read_bytes() == before
    assert _hidden(mp4.parent) == []
    assert read_manifest(mp4).state == "absent"


def test_missing_ingredient_raises_input_error(outputs, identity, tmp_path) -> None:
    with pytest.raises(InputError, match="portrait"):
        sign_file(
            outputs["png"], ingredients={"portrait": tmp_path / "gone.jpg"},
            settings={}, identity=identity,
        )  # fmt: skip


# ---------------------------------------------------------------------- keys


def test_identity_generated_once_with_private_key_mode(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    first = load_or_create_identity(directory=directory)
    key_file = directory / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert (directory / CERT_FILE).is_file() and (directory / CA_FILE).is_file()
    assert first.algorithm == "es256"
    assert first.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert first.cert_chain_pem.count(b"BEGIN CERTIFICATE") == 2
    assert b"PRIVATE" not in repr(first).encode()  # never logged by accident

    stamp = key_file.stat().st_mtime_ns
    second = load_or_create_identity(directory=directory)
    assert second == first
    assert key_file.stat().st_mtime_ns == stamp


def test_concurrent_first_use_makes_one_identity(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    with ThreadPoolExecutor(4) as pool:
        found = list(
            pool.map(lambda _: load_or_create_identity(directory=directory), range(8))
        )
    assert all(identity == found[0] for identity in found)


def test_expired_local_certificate_is_replaced(tmp_path: Path, monkeypatch) -> None:
    directory = tmp_path / "config"
    monkeypatch.setattr(keys, "_VALIDITY", -dt.timedelta(hours=1))
    old = load_or_create_identity(directory=directory)
    monkeypatch.undo()
    new = load_or_create_identity(directory=directory)
    assert new.key_pem != old.key_pem
    assert load_or_create_identity(directory=directory) == new


def test_explicit_key_and_cert_paths(outputs, inputs, tmp_path: Path) -> None:
    generated = load_or_create_identity(directory=tmp_path / "elsewhere")
    # Given as a traditional "EC PRIVATE KEY" file: normalized to PKCS#8 for c2pa.
    key = serialization.load_pem_private_key(generated.key_pem, password=None)
    key_path = tmp_path / "my-key.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_path = tmp_path / "my-cert.pem"
    cert_path.write_bytes(generated.cert_chain_pem)

    explicit = load_or_create_identity(key_path, cert_path)
    assert explicit == generated
    _sign(outputs["mp4"], inputs, explicit)
    assert read_manifest(outputs["mp4"]).state == "valid"


def test_explicit_paths_errors(tmp_path: Path) -> None:
    a = load_or_create_identity(directory=tmp_path / "a")
    b = load_or_create_identity(directory=tmp_path / "b")
    with pytest.raises(ConfigError, match="--sign-cert"):
        load_or_create_identity(tmp_path / "a" / KEY_FILE, None)
    with pytest.raises(InputError, match="does not belong"):
        load_or_create_identity(tmp_path / "a" / KEY_FILE, tmp_path / "b" / CERT_FILE)
    with pytest.raises(InputError, match="not found"):
        load_or_create_identity(tmp_path / "missing.pem", tmp_path / "a" / CERT_FILE)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(InputError, match=r"garbage\.pem"):
        load_or_create_identity(garbage, tmp_path / "a" / CERT_FILE)
    with pytest.raises(InputError, match=r"garbage\.pem"):
        load_or_create_identity(tmp_path / "a" / KEY_FILE, garbage)
    assert a != b


def test_half_an_identity_is_reported_not_overwritten(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    load_or_create_identity(directory=directory)
    (directory / CERT_FILE).unlink()
    key_before = (directory / KEY_FILE).read_bytes()
    with pytest.raises(InputError, match="is missing"):
        load_or_create_identity(directory=directory)
    assert (directory / KEY_FILE).read_bytes() == key_before


def test_config_dir_precedence(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ENLIVEN_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "enliven"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    assert config_dir() == Path.home() / ".config" / "enliven"
    monkeypatch.setenv("ENLIVEN_CONFIG_DIR", str(tmp_path / "override"))
    assert config_dir() == tmp_path / "override"
    assert not (tmp_path / "override").exists()  # only named, not created
    assert os.environ["ENLIVEN_CONFIG_DIR"] == str(tmp_path / "override")


def test_signing_uses_a_file_backed_store_below_half_a_gigabyte():
    # Measured with c2pa 0.38 (see manifest._BACKING_STORE_BELOW): the store
    # halves signing's memory up to a few hundred MB and costs more above.
    from enliven.provenance import manifest

    small = manifest._sign_settings(40 * 2**20)
    large = manifest._sign_settings(manifest._BACKING_STORE_BELOW)
    assert small["core"]["backing_store_memory_threshold_in_mb"] == 1
    assert "backing_store_memory_threshold_in_mb" not in large["core"]
    for settings in (small, large):  # still offline either way
        assert settings["core"]["allowed_network_hosts"] == []
        assert settings["verify"]["remote_manifest_fetch"] is False
