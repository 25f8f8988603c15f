"""Shared fixtures: the public data sets and reference models are read from
../shared (or $DS_SHARED) next to the repository; tests that need them skip
with a message when they are absent, as the C tests do."""
import gzip
import json
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = pathlib.Path(os.environ.get("DS_SHARED", ROOT.parent / "shared"))


def shared(*parts):
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip("%s absent (public data/models live in ../shared)" % p)
    return p


@pytest.fixture(scope="session")
def fixtures():
    with gzip.open(shared("models", "fixtures.json.gz")) as f:
        return json.load(f)
