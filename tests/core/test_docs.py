"""The generated docs (configuration reference, OpenAPI) stay current with the code."""

from __future__ import annotations

import json

from station.api.app import create_app
from station.config import Config
from station.config.reference import render
from tests.conftest import REPO


def test_configuration_reference_is_current() -> None:
    current = (REPO / "docs" / "configuration.md").read_text()
    assert current == render(Config), "run: station config reference > docs/configuration.md"


def test_openapi_document_is_current() -> None:
    current = json.loads((REPO / "docs" / "openapi.json").read_text())
    assert current == create_app(None).openapi(), "run: station openapi > docs/openapi.json"


def test_every_config_section_is_documented() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    for name in Config.model_fields:
        assert f"| `{name}` |" in text
