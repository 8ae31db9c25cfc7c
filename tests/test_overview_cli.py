"""``alfred-tui overview``: the Overview pane's headless twin, on a real local deployment."""

from __future__ import annotations

import json

import jsonschema
import pytest
from localdeploy import LocalDeployment

from alfred_tui import paths

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

SCHEMA = json.loads((paths.assets_dir() / "schemas" / "overview.v1.schema.json").read_text())


def test_json_document_matches_its_schema_and_the_deployment(
    cli, local_deployment: LocalDeployment
) -> None:  # type: ignore[no-untyped-def]
    # local_deployment.up() creates the profile's collections, as `alfred-tui up` does
    result = cli("overview", "--profile", str(local_deployment.profile_path), "-o", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    assert (document["schema"], document["version"]) == ("alfred-tui/overview", 1)
    services = {entry["service"]: entry for entry in document["services"]}
    assert list(services) == ["postgres", "redis", "qdrant"]
    for name in ("postgres", "redis"):
        entry = services[name]
        assert entry["state"] == "OK", entry
        deployment = entry["deployment"]
        assert (deployment["desired"], deployment["ready"]) == (1, 1)
        assert deployment["instances"][0]["state"] == "running"
        assert entry["health"]["up"] is True
    assert services["qdrant"]["deployment"]["embedded"] is True
    assert services["qdrant"]["state"] == "OK"


def test_table_output_and_a_bad_profile(cli, local_deployment: LocalDeployment) -> None:  # type: ignore[no-untyped-def]
    result = cli("overview", "--profile", str(local_deployment.profile_path))
    assert result.returncode == 0, result.stderr
    assert "postgres" in result.stdout and "1/1" in result.stdout
    missing = cli("overview", "--profile", "no-such-profile")
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert missing.stderr.startswith("Profile error: no profile named 'no-such-profile'")
    assert "Traceback" not in missing.stderr
