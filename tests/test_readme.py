"""The README a newcomer reads: short, linked, and every command in it still exists with the flags it shows."""

from __future__ import annotations

import re
import shlex

from tests.conftest import ROOT, run_r1f

README = (ROOT / "README.md").read_text()


def _commands() -> list[list[str]]:
    found = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("r1f "):
                found.append(shlex.split(line))
    return found


def test_the_readme_is_short_and_every_page_it_links_exists():
    assert len(README.splitlines()) <= 250
    links = re.findall(r"\]\(((?:docs|bench)/[^)#]+)\)", README)
    assert len(set(links)) >= 12
    for link in links:
        assert (ROOT / link).is_file(), link
    for page in (ROOT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in README, f"docs/{page.name} is not linked from the README"


def test_every_readme_command_exists_with_its_flags():
    helps: dict[str, str] = {}
    commands = _commands()
    assert len(commands) >= 8
    for argv in commands:
        words = [w for w in argv[1:] if not w.startswith("-")]
        # the command path: r1f review push, r1f train sft, r1f run ...
        path = words[:2] if words[:1] in (["review"], ["train"]) else words[:1]
        key = " ".join(path)
        if key not in helps:
            result = run_r1f(*path, "--help")
            assert result.returncode == 0, (key, result.stderr)
            helps[key] = result.stdout
        for flag in (w.split("=")[0] for w in argv[1:] if w.startswith("--")):
            assert flag in helps[key], (argv, flag)


def test_the_fast_readme_commands_run():
    plan = run_r1f("run", "tiny-r1", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "r1_zero" in plan.stdout and "sft1" in plan.stdout
    assert run_r1f("rewards").returncode == 0
    assert run_r1f("models").returncode == 0
