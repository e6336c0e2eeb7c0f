"""The malloc arena cap (`adapters/memory.py`): taken by glibc, harmless elsewhere."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

from gateway.adapters.memory import limit_malloc_arenas


def test_the_cap_is_taken_where_the_c_library_is_glibc() -> None:
    # A child process: the cap stays for the life of a process.
    done = subprocess.run(
        [sys.executable, "-c", "from gateway.adapters.memory import limit_malloc_arenas; "
         "print(limit_malloc_arenas())"], capture_output=True, text=True, check=True)
    glibc = "libc.so.6" in (ctypes.util.find_library("c") or "")
    assert done.stdout.strip() == str(glibc)


def test_no_c_library_found_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert limit_malloc_arenas() is False
