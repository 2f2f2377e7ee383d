"""Freed tensor memory is reused from the heap: a second large tensor costs no fresh page faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# In a fresh interpreter (the allocator's settings are per process): a training-like loop that allocates, fills
# and frees a 96 MiB tensor again and again; the minor page faults of its last 4 rounds. (The first rounds fault
# in either case: small objects allocated between the big ones keep freed blocks apart until the heap settles.)
PROBE = """
import json, resource
from r1f.heap import reuse_freed_memory
applied = reuse_freed_memory()
import torch
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for round in range(16):
    if round == 12:
        before = faults()
    t = torch.empty(24 * 1024 * 1024).fill_(1.0)
    del t
print(json.dumps({"applied": applied, "faults": (faults() - before) / 4}))
"""


def _probe(**env: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_is_reused_and_system_keeps_the_defaults():
    pages = 96 * 1024 * 1024 // os.sysconf("SC_PAGE_SIZE")
    reused = _probe(R1F_MALLOC="")
    system = _probe(R1F_MALLOC="system")
    assert reused["applied"] is True and system["applied"] is False
    # the C library's default maps a fresh region and faults in every page again; the heap hands back warm pages
    assert system["faults"] > pages // 2
    assert reused["faults"] < pages // 20


def test_cli_applies_it_once():
    from r1f import heap

    first = heap.reuse_freed_memory()
    assert heap.reuse_freed_memory() is first  # idempotent: a second call changes nothing
