"""Every `heals` command the README shows exists and accepts its options."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from heals.cli import cli
from heals.settings import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
COMMAND = re.compile(r"`(?:\.venv/bin/)?heals ([a-z0-9 -]+?)(?: [A-Z_]+)*`")


def _readme_commands() -> list[list[str]]:
    found = set()
    for match in COMMAND.finditer(README):
        found.add(tuple(match.group(1).split()))
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for words in re.findall(r"\.venv/bin/heals ([a-z -]+)", block):
            found.add(tuple(words.split()))
    return [list(words) for words in sorted(found)]


def test_readme_names_commands():
    assert len(_readme_commands()) >= 5


@pytest.mark.parametrize("words", _readme_commands(), ids=lambda words: " ".join(words))
def test_readme_command_exists(words):
    subcommands = [w for w in words if not w.startswith("-")]
    options = [w for w in words if w.startswith("-")]
    result = CliRunner().invoke(cli, [*subcommands, "--help"])
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output, f"heals {' '.join(subcommands)} has no option {option}"


def test_readme_scripts_exist():
    for script in re.findall(r"bash ([\w/.-]+\.sh)", README):
        assert (REPO_ROOT / script).is_file(), script
