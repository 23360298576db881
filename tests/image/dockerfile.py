"""The Dockerfile read as Docker reads it: continuation lines joined, comments dropped, one
`Stage` per FROM, build arguments resolved in FROM lines."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from chatfn.local.provision import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def args_of(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        """The stage's ENV, as `KEY=value` pairs (the only form this Dockerfile uses)."""
        pairs = (word.partition("=") for args in self.args_of("ENV") for word in shlex.split(args))
        return {key: value for key, _, value in pairs}


def instructions(text: str) -> list[Instruction]:
    logical: list[str] = []
    current = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue  # comments end nothing, even inside a continued instruction
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            logical.append(current.strip())
        current = ""
    found = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        found.append(Instruction(keyword.upper(), " ".join(args.split())))
    return found


def stages(text: str) -> list[Stage]:
    """Every stage in order, the last being the image; `ARG`s before the first FROM fill in
    `${NAME}` in FROM lines."""
    build_args: dict[str, str] = {}
    found: list[Stage] = []
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            words = re.sub(
                r"\$\{(\w+)\}", lambda m: build_args.get(m[1], ""), instruction.args
            ).split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            found.append(Stage(base=words[0], name=name))
        elif not found and instruction.keyword == "ARG":
            key, _, default = instruction.args.partition("=")
            build_args[key] = default
        elif found:
            found[-1].instructions.append(instruction)
    return found


def final_stage(path: Path = DOCKERFILE) -> Stage:
    return stages(path.read_text())[-1]
