import shutil

import pytest

from enliven.errors import ModelIntegrityError
from enliven.face.models import MODEL_SHA256, models_dir, verify_installed_model, verify_model


def test_installed_models_match_their_checksums():
    for name in MODEL_SHA256:
        assert verify_installed_model(name).is_file()


def test_a_tampered_model_is_refused(tmp_path):
    name = "face_landmark/face_landmark_with_attention.tflite"
    copy = tmp_path / "model.tflite"
    shutil.copyfile(models_dir() / name, copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="has been changed"):
        verify_model(copy, MODEL_SHA256[name])


def test_a_missing_model_is_refused(tmp_path):
    with pytest.raises(ModelIntegrityError, match="missing"):
        verify_model(tmp_path / "nothing.tflite", "0" * 64)
