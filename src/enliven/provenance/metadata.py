"""Metadata tags that label every output as synthetic and say how it was made.

Ingredients are named by file name and sha256 only, never embedded.
"""

from __future__ import annotations

import json
from pathlib import Path

from enliven._version import __version__
from enliven.face.models import sha256_file as file_sha256

SYNTHETIC_NOTICE = "Synthetic video: a still portrait animated by Enliven (AI-generated motion)"


def provenance_tags(ingredients: dict[str, Path | None], settings: dict[str, object]) -> dict[str, str]:
    """Container/PNG text tags: a synthetic notice, software, ingredients, settings.

    ingredients : role -> file (``None`` for built-in material such as the demo).
    """
    record = {
        "software": f"enliven {__version__}",
        "synthetic": True,
        "ingredients": {
            role: (
                {"title": path.name, "sha256": file_sha256(path)} if path is not None else {"title": "built-in"}
            )
            for role, path in ingredients.items()
        },
        "settings": settings,
    }
    return {
        "comment": SYNTHETIC_NOTICE,
        "encoder": f"enliven {__version__}",
        "description": json.dumps(record, sort_keys=True, default=str),
    }
