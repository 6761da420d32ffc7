"""The commands the README and the docs show exist: each `betguard ...` line of their
shell blocks names a real command with real options, and answers `--help`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import click
import pytest

from betguard.cli import main
from tests.integration.harness import BETGUARD

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "CONTRIBUTING.md"]


def shown_commands() -> list[str]:
    lines = []
    text = "\n".join(page.read_text() for page in PAGES)
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            words = line.split("#")[0].split()
            while words and "=" in words[0]:  # VAR=value prefixes
                words.pop(0)
            if words and words[0].endswith("betguard"):
                lines.append(" ".join(words[1:]))
    return lines


def resolve(line: str) -> tuple[list[str], click.Command]:
    path: list[str] = []
    command: click.Command = main
    for word in line.split():
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        path.append(word)
        command = command.commands[word]
    return path, command


def option_names(command: click.Command) -> set[str]:
    return {name for param in command.params for name in getattr(param, "opts", [])}


def test_the_readme_and_the_docs_show_the_operator_commands() -> None:
    shown = {" ".join(resolve(line)[0]) for line in shown_commands()}

    assert {"stats", "bets list", "bets show", "review list", "review resolve", "recheck",
            "sweep", "demo"} <= shown


@pytest.mark.parametrize("line", shown_commands())
def test_each_command_the_readme_shows_exists_with_its_options(line: str) -> None:
    path, command = resolve(line)
    used = {w.split("=")[0] for w in line.split() if w.startswith("--")}

    assert path, f"no betguard command in {line!r}"
    unknown = used - option_names(command)
    assert not unknown, f"{line!r}: unknown options {unknown}"
    done = subprocess.run([BETGUARD, *path, "--help"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
