""".github/workflows/ parse with GitHub's own parser, pin their actions, and edit what exists.

The workflows cannot run here; these checks are what can be known of them offline. Node.js
runs @actions/workflow-parser from .github/tools (`./task setup:ci-tools` installs it). The
release's black-box checks run against the local stack, whose gateway routes like the edge;
its kind environment passes test_terraform's wiring checks as the one root does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatfn.local.provision import PROJECT_ROOT
from chatfn.settings import Settings
from tests.manifests.test_terraform import tuning_problems, wiring_problems
from tests.utils.accounts import client_address

GITHUB = PROJECT_ROOT / ".github"
TOOLS = GITHUB / "tools"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
IMAGE = "ghcr.io/chatfn/functions"
E2E = GITHUB / "e2e" / "main.tf"

# owner/repo[/path]@<full commit SHA> # v<version>: a tag can be moved to other code, a commit
# cannot, and the comment says what to bump from.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+(\.\d+)*$")


def check_workflows(*paths: Path) -> subprocess.CompletedProcess[str]:
    if not (TOOLS / "node_modules" / "@actions" / "workflow-parser").is_dir():
        pytest.fail("GitHub's workflow parser is not installed: run ./task setup:ci-tools")
    return subprocess.run(
        ["node", str(TOOLS / "check-workflows.mjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def unpinned_actions(workflow: str) -> list[str]:
    """Every `uses:` of another repository's action not pinned as PINNED says."""
    return [
        line.strip()
        for line in workflow.splitlines()
        if (uses := re.match(r"^\s*(?:- )?uses: (.+)$", line))
        and not uses[1].startswith(("./", "docker://"))
        and not PINNED.match(uses[1])
    ]


def steps(workflow: Path) -> list[dict[str, Any]]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    return [step for job in jobs.values() for step in job.get("steps", [])]


def test_the_ci_and_release_workflows_exist() -> None:
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "release.yml"}


def test_every_workflow_parses_without_errors() -> None:
    result = check_workflows(*WORKFLOWS)

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("original", "broken", "error"),
    [
        ("    runs-on:", "    runs-in:", "Unexpected value 'runs-in'"),
        ("${{ github.ref }}", "${{ github.ref }", "expression is not closed"),
    ],
)
def test_a_broken_copy_of_a_workflow_fails(
    tmp_path: Path, original: str, broken: str, error: str
) -> None:
    copy = tmp_path / "ci.yml"
    copy.write_text((GITHUB / "workflows" / "ci.yml").read_text().replace(original, broken, 1))

    result = check_workflows(copy)

    assert result.returncode == 1
    assert error in result.stderr


def test_every_action_is_pinned_by_commit() -> None:
    for workflow in WORKFLOWS:
        assert unpinned_actions(workflow.read_text()) == [], workflow.name


def test_an_action_pinned_by_tag_is_found() -> None:
    workflow = (GITHUB / "workflows" / "ci.yml").read_text()
    retagged = re.sub(r"actions/checkout@[0-9a-f]{40} # v[\d.]+", "actions/checkout@v7", workflow)

    assert unpinned_actions(retagged) == ["- uses: actions/checkout@v7"] * 2


def test_every_repository_path_a_step_names_exists() -> None:
    paths = {
        Path(path)
        for workflow in WORKFLOWS
        for step in steps(workflow)
        for path in re.findall(r"(?<![\w/])\.github/[\w./-]*\w", step.get("run", ""))
    }

    assert paths
    assert [path for path in paths if not (PROJECT_ROOT / path).exists()] == []


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def terraform_versions_used(workflows: list[Path]) -> set[str]:
    return {
        step["with"]["terraform_version"]
        for workflow in workflows
        for step in steps(workflow)
        if step.get("uses", "").startswith("hashicorp/setup-terraform@")
    }


def test_the_workflows_run_one_terraform_that_every_module_accepts() -> None:
    versions = terraform_versions_used(WORKFLOWS)
    constraints = [
        constraint
        for path in (PROJECT_ROOT / "terraform").rglob("*.tf")
        for constraint in re.findall(r'required_version\s*=\s*"([^"]*)"', path.read_text())
    ]

    assert len(versions) == 1, versions
    assert constraints
    used = versions.pop()
    # Only `>= x.y.z` is read here: another form fails until this test learns it.
    assert all(re.fullmatch(r">= ?[\d.]+", c) for c in constraints), constraints
    assert all(version(used) >= version(c.lstrip(">= ")) for c in constraints), (used, constraints)


def pin(digest: str, kustomization: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOLS / "pin-image-digest.sh"), digest, str(kustomization)],
        capture_output=True,
        text=True,
        timeout=10,
    )


def test_the_release_pins_the_built_digest_in_the_kustomization(tmp_path: Path) -> None:
    copy = tmp_path / "kustomization.yaml"
    shutil.copy(PROJECT_ROOT / "knative" / "kustomization.yaml", copy)
    digest = "sha256:" + "ab" * 32

    assert pin(digest, copy).returncode == 0
    images = {image["name"]: image for image in yaml.safe_load(copy.read_text())["images"]}
    assert images[IMAGE]["digest"] == digest
    assert "newTag" not in images[IMAGE]


def test_pinning_refuses_what_is_no_digest_and_a_file_without_one(tmp_path: Path) -> None:
    copy = tmp_path / "kustomization.yaml"
    shutil.copy(PROJECT_ROOT / "knative" / "kustomization.yaml", copy)

    assert pin("sha256:abc", copy).returncode == 1
    copy.write_text(re.sub(r"digest: .*", "newTag: latest", copy.read_text()))
    assert pin("sha256:" + "ab" * 32, copy).returncode == 1


def test_the_release_black_box_checks_pass_against_the_local_stack(
    stack_settings: Settings,
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(GITHUB / "e2e" / "smoke.py"),
            f"http://127.0.0.1:{stack_settings.port}",
            "--model=scripted",
            f"--client-address={client_address()}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def e2e_problems(main_tf: Path, root: Path) -> list[str]:
    """test_terraform's wiring and tuning checks, run on `main_tf` (the release's kind
    environment, a root of its own that uses every module but the CDN) as the one root is."""
    e2e = root / ".github" / "e2e"
    e2e.mkdir(parents=True)
    (root / "terraform").mkdir()
    (root / "terraform" / "modules").symlink_to(PROJECT_ROOT / "terraform" / "modules")
    shutil.copy(main_tf, e2e / "main.tf")
    problems = wiring_problems(root, e2e) + tuning_problems(root, e2e)
    return [problem for problem in problems if problem != "e2e: module cdn not used"]


def test_the_e2e_environment_sets_every_input_of_the_modules_it_uses(tmp_path: Path) -> None:
    assert e2e_problems(E2E, tmp_path) == []


def test_an_input_missing_from_or_unknown_to_a_module_is_found(tmp_path: Path) -> None:
    copy = tmp_path / "main.tf"
    copy.write_text(E2E.read_text().replace("  kafka_replicas ", "  kafka_replica ", 1))

    assert e2e_problems(copy, tmp_path / "checkout") == [
        "e2e: platform lacks kafka_replicas",
        "e2e: platform has no input kafka_replica",
    ]
