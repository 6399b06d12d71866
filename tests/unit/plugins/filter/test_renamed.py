# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The 0.1.0 names of variables (asgi.uvicorn.renamed): taken with a deprecation warning until 2.0.0."""

from __future__ import annotations

import pytest

from ansible_collections.asgi.uvicorn.plugins.filter import renamed as module

RENAMES = {"app_keep_releases": "release_keep", "app_gate_url": "release_gate_url"}


@pytest.fixture
def warned(monkeypatch) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(module.Display, "deprecated",
                        lambda self, msg, version=None, collection_name=None: seen.append((msg, version)))
    return seen


def test_an_old_name_gives_its_value_to_the_new_one(warned):
    assert module.renamed(RENAMES, {"app_keep_releases": 4, "other": 1}) == [{"name": "release_keep", "value": 4}]
    assert warned == [("app_keep_releases is renamed release_keep; rename it in your inventory.", "2.0.0")]


def test_the_new_name_wins_when_both_are_set(warned):
    assert module.renamed(RENAMES, {"app_gate_url": "https://a/health", "release_gate_url": "https://b/health"}) == []
    assert [version for _, version in warned] == ["2.0.0"] and "app_gate_url is ignored" in warned[0][0]


def test_nothing_set_under_an_old_name_says_nothing(warned):
    assert module.renamed(RENAMES, {"release_keep": 3}) == []
    assert warned == []
