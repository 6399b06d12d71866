# -*- coding: utf-8 -*-
# Copyright (c) 2026, asgi.uvicorn contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Internal to the asgi.uvicorn collection: not part of the public API; it can change or go in
# any release, without deprecation. Do not use it from other collections.

from __future__ import annotations


class ModuleDocFragment:
    # What each attribute means; a module says its support next to it.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - Run a second time with the same arguments, outside check mode, it reports no change,
        unless something else changed the host in between.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
"""
