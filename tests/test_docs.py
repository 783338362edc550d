"""The docs are true as written: every command block of README.md and docs/**/*.md runs, and every config key
they quote exists.

How blocks run (what a doc writer can rely on):

- Fenced blocks tagged `bash`, `sh`, `shell`, `console` or `python` run; others (`yaml`, `json`, untagged) are
  shown only. A block right after the line `<!-- docs-test: skip REASON -->` (blank lines between allowed) does
  not run and its reason is printed; a skip without a reason, or one before a block that would not run anyway,
  fails.
- The blocks of one file run in order, in one scratch folder that behaves like the repository root after
  `bash scripts/setup.sh`: `.venv` is the environment running this test (`.venv/bin/hscl` works, and `hscl` is on
  PATH as in an activated environment), `tests` and `.git` are links to this checkout, `src` and every other file
  or folder are copies (a block may write into `docs/` without touching the checkout), `runs/` starts empty, and
  `../shared` is the shared data folder where there is one. A file that uses `runs/demo` without making it
  gets a copy of the demo run, trained once per session by `DEMO_COMMAND`.
- `bash`, `sh` and `shell` blocks run with `bash -euo pipefail`; `python` blocks with `.venv/bin/python`; a
  `console` block runs each `$ COMMAND` line and checks that every line shown under it appears, in order, in what
  the command printed (the command may fail: examples of errors are welcome).
- Training budgets shrink, nothing else changes: `PRESET_BUDGETS` shrinks the demo preset in the scratch copy of
  `src` (epochs, sample counts) and `REWRITES` edits command text (trial counts; the README's first block, whose
  set-up CI runs itself). Each rewrite is tested, and one that no block needs any more fails, so the table stays
  small.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import pytest
import yaml
from pydantic import BaseModel

from hscl.config import RunConfig, apply_overrides
from hscl.config.data import READER_OPTIONS, DataConfig

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUNNABLE = {"bash": "bash", "sh": "bash", "shell": "bash", "console": "console", "python": "python"}
SKIP = re.compile(r"^<!--\s*docs-test:\s*skip\b(.*?)-->\s*$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
BLOCK_TIMEOUT = 600  # seconds: a guard against a hanging block (a server), never an expected time
DEMO_COMMAND = ".venv/bin/hscl train --preset demo --out runs/demo"
# The demo preset as the blocks see it: the same run, trained shortly on a small sample of the same data.
PRESET_BUDGETS: dict[str, tuple[str, ...]] = {
    "demo": ("train.epochs=1", "data.options.n_train=32", "data.options.n_valid=16", "data.options.n_test=16"),
}


@dataclass(frozen=True)
class Rewrite:
    """One edit of a block's text: `pattern` (a multi-line regular expression) becomes `replacement`."""

    name: str
    pattern: str
    replacement: str
    why: str
    example: tuple[str, str]  # (before, after), checked by test_each_rewrite_does_what_it_says

    def apply(self, text: str) -> tuple[str, int]:
        return re.subn(self.pattern, self.replacement, text, flags=re.MULTILINE)


REWRITES: tuple[Rewrite, ...] = (
    Rewrite(
        "set-up",
        r"^bash scripts/setup\.sh && ",
        "",
        "the scratch folder is set up already; CI runs scripts/setup.sh itself (.ci/run)",
        ("bash scripts/setup.sh && .venv/bin/hscl presets", ".venv/bin/hscl presets"),
    ),
    Rewrite(
        "test suite",
        r"^\.venv/bin/python -m pytest$",
        ": the test suite, which CI runs itself and this test is part of",
        "the README's second command runs the suite this test belongs to",
        (".venv/bin/python -m pytest", ": the test suite, which CI runs itself and this test is part of"),
    ),
    Rewrite(
        "trials",
        r"(hscl tune .*--trials )\d+",
        r"\g<1>1 --set train.epochs=1",
        "one tuning trial of one epoch shows the study's outputs as well as many (the epochs field leaves the space)",
        (
            "hscl tune --preset demo --trials 20 --out x",
            "hscl tune --preset demo --trials 1 --set train.epochs=1 --out x",
        ),
    ),
)


@dataclass(frozen=True)
class Block:
    """A fenced block of a doc: where it starts, its language, its text, and its skip reason (None: not skipped)."""

    path: Path
    line: int
    language: str
    text: str
    skip: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def runnable(self) -> bool:
        return self.language in RUNNABLE


def blocks_of(path: Path) -> list[Block]:
    """Every fenced block of the Markdown file `path`, with the skip marker before it (if any)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence, language = opening.groups()
        body, end = [], index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence[0] * len(fence)):
            body.append(lines[end][len(indent) :] if lines[end].startswith(indent) else lines[end])
            end += 1
        before = index - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marker = SKIP.match(lines[before].strip()) if before >= 0 else None
        skip = marker.group(1).strip() if marker else None
        blocks.append(Block(path, index + 1, language.lower(), "\n".join(body) + "\n", skip))
        index = end + 1
    return blocks


def rewritten(text: str, used: dict[str, int] | None = None) -> str:
    """`text` with every rewrite applied (counting in `used` how often each matched)."""
    for rewrite in REWRITES:
        text, count = rewrite.apply(text)
        if used is not None:
            used[rewrite.name] = used.get(rewrite.name, 0) + count
    return text


# --- the scratch folder -------------------------------------------------------------------------------------------
LINKED = ("tests", ".git")  # read by blocks, never written


def checkout_files() -> list[str]:
    """The files of the checkout a fresh clone would have (tracked, or new and not ignored), relative to ROOT."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: everything but outputs and caches
        ignored = {".venv", "runs", "__pycache__", ".pytest_cache", ".ruff_cache"}
        listed = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file() and not ignored & set(p.relative_to(ROOT).parts)
        ]
    return [name for name in listed if name.split("/")[0] not in LINKED and (ROOT / name).is_file()]


def make_scratch(base: Path) -> Path:
    """A folder like the repository root after `bash scripts/setup.sh` (see the module docstring); returns it."""
    repo = base / "repo"
    repo.mkdir(parents=True)
    for name in checkout_files():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    for name in LINKED:
        if (ROOT / name).exists():
            (repo / name).symlink_to(ROOT / name)
    for preset, overrides in PRESET_BUDGETS.items():
        path = repo / "src" / "hscl" / "presets" / f"{preset}.yaml"
        path.write_text(yaml.safe_dump(apply_overrides(yaml.safe_load(path.read_text()), list(overrides))))
    (repo / ".venv").symlink_to(Path(sys.prefix))
    shared = ROOT.parent / "shared"
    if shared.is_dir():
        (base / "shared").symlink_to(shared)
    return repo


def scratch_env(repo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "PYTHONPATH")}
    env["PATH"] = f"{repo / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(repo / "src")
    return env


# --- running blocks -----------------------------------------------------------------------------------------------
def run_text(argv: list[str], repo: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run `argv` in `repo`; past BLOCK_TIMEOUT, it and everything it started are killed and the test fails."""
    process = subprocess.Popen(
        argv,
        cwd=repo,
        env=scratch_env(repo),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so a server it starts goes with it
    )
    try:
        stdout, stderr = process.communicate(stdin, timeout=BLOCK_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(
            f"{' '.join(argv)[:200]} did not finish within {BLOCK_TIMEOUT} s (does it start a server? mark it "
            f"with a skip); its output:\n{(stdout + stderr)[-3000:]}"
        ) from None
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def console_steps(text: str) -> list[tuple[str, list[str]]]:
    """(command, lines expected in its output) for each `$ ` line of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps and line.strip() and line.strip() != "...":
            steps[-1][1].append(line.strip())
    return steps


def run_block(block: Block, text: str, repo: Path) -> str:
    """Run one block in `repo`; its output, or an AssertionError that names the block and shows the output."""
    kind = RUNNABLE[block.language]
    if kind == "python":
        done = run_text([str(repo / ".venv" / "bin" / "python"), "-"], repo, stdin=text)
    elif kind == "bash":
        done = run_text(["bash", "-euo", "pipefail", "-c", text], repo)
    else:
        output = []
        for command, expected in console_steps(text):
            step = run_text(["bash", "-c", command], repo)
            printed = [line.strip() for line in (step.stdout + step.stderr).splitlines()]
            position = 0
            for want in expected:
                if want not in printed[position:]:
                    raise AssertionError(
                        f"{block.where}: `$ {command}` did not print the line\n  {want}\nin order; it printed:\n"
                        + "\n".join(printed[-40:])
                    )
                position = printed.index(want, position) + 1
            output.append(step.stdout + step.stderr)
        return "".join(output)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise AssertionError(
            f"{block.where}: the {block.language} block failed (exit status {done.returncode}):\n{text}\n"
            f"--- its output (last 6000 characters) ---\n{output[-6000:]}"
        )
    return output


def makes_demo(blocks: list[Block]) -> bool:
    return any(DEMO_COMMAND in rewritten(b.text) for b in blocks if b.runnable and b.skip is None)


def uses_demo(blocks: list[Block]) -> bool:
    return any(re.search(r"\bruns/demo(?![\w-])", b.text) for b in blocks if b.runnable and b.skip is None)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """`runs/demo` made once by DEMO_COMMAND, for the doc files that use it without making it."""
    repo = make_scratch(tmp_path_factory.mktemp("demo-run"))
    done = run_text(["bash", "-euo", "pipefail", "-c", DEMO_COMMAND], repo)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return repo / "runs" / "demo"


WITH_COMMANDS = [path for path in DOCS if any(b.runnable for b in blocks_of(path))]


@pytest.mark.slow
@pytest.mark.parametrize("path", WITH_COMMANDS, ids=[str(p.relative_to(ROOT)) for p in WITH_COMMANDS])
def test_every_block_runs_as_written(path, tmp_path, request):
    blocks = blocks_of(path)
    repo = make_scratch(tmp_path)
    if uses_demo(blocks) and not makes_demo(blocks):
        shutil.copytree(request.getfixturevalue("demo_run"), repo / "runs" / "demo")
    started = time.perf_counter()
    for block in blocks:
        if not block.runnable:
            continue
        if block.skip is not None:
            print(f"{block.where}: skipped: {block.skip}")
            continue
        text = rewritten(block.text)
        began = time.perf_counter()
        run_block(block, text, repo)
        changed = [line for line in text.splitlines() if line not in block.text.splitlines()]
        print(f"{block.where}: ran in {time.perf_counter() - began:.1f} s" + "".join(f"\n  as: {c}" for c in changed))
    print(f"{path.relative_to(ROOT)}: {time.perf_counter() - started:.1f} s in all")


# --- the harness itself -------------------------------------------------------------------------------------------
def skip_problems(path: Path) -> list[str]:
    """Each skip marker of `path` that gives no reason, or that is not right before a command block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    problems = []
    for number, line in enumerate(lines, start=1):
        found = SKIP.match(line.strip())
        if not found:
            continue
        after = next((text for text in lines[number:] if text.strip()), "")
        fence = FENCE.match(after)
        where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name}:{number}"
        if not found.group(1).strip():
            problems.append(f"{where}: a skip without a reason")
        elif not fence or fence.group(3).lower() not in RUNNABLE:
            problems.append(f"{where}: the skip marks no command block")
    return problems


def test_skips_name_their_reason_and_mark_a_command_block(tmp_path):
    assert [problem for path in DOCS for problem in skip_problems(path)] == []
    doc = tmp_path / "doc.md"
    doc.write_text(
        "<!-- docs-test: skip -->\n```bash\nls\n```\n<!-- docs-test: skip GPU -->\ntext\n```bash\nls\n```\n"
        "<!-- docs-test: skip GPU -->\n```yaml\na: 1\n```\n<!-- docs-test: skip GPU -->\n\n```python\n1\n```\n"
    )
    assert skip_problems(doc) == [
        "doc.md:1: a skip without a reason",
        "doc.md:5: the skip marks no command block",
        "doc.md:10: the skip marks no command block",
    ]


def test_blocks_are_found_with_their_language_text_and_skip(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "intro\n```bash\necho one\n```\n\n<!-- docs-test: skip needs a GPU -->\n\n```python\nprint(2)\n```\n"
        "- a list:\n\n  ```sh\n  echo three\n  ```\n```yaml\na: 1\n```\n"
        "<!-- docs-test: skip -->\n```console\n$ ls\n```\n"
    )
    found = [(b.line, b.language, b.text, b.skip) for b in blocks_of(doc)]
    assert found == [
        (2, "bash", "echo one\n", None),
        (8, "python", "print(2)\n", "needs a GPU"),
        (13, "sh", "echo three\n", None),
        (16, "yaml", "a: 1\n", None),
        (20, "console", "$ ls\n", ""),
    ]


def test_each_rewrite_does_what_it_says():
    for rewrite in REWRITES:
        before, after = rewrite.example
        assert rewrite.apply(before) == (after, 1), rewrite.name
        assert rewrite.why
    assert rewritten("bash scripts/setup.sh && .venv/bin/python -m pytest") == REWRITES[1].replacement
    assert rewritten(".venv/bin/hscl tune --preset demo --space demo --trials 20 --out runs/t") == (
        ".venv/bin/hscl tune --preset demo --space demo --trials 1 --set train.epochs=1 --out runs/t"
    )


def test_every_rewrite_is_still_needed_and_the_first_block_is_what_ci_runs():
    used: dict[str, int] = {}
    for path in DOCS:
        for block in blocks_of(path):
            if block.runnable and block.skip is None:
                rewritten(block.text, used)
    assert {name for name, count in used.items() if count == 0} == set(), used
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/setup.sh" in ci and ".venv/bin/python -m pytest" in ci
    first = next(b for b in blocks_of(ROOT / "README.md") if b.runnable)
    commands = [line for line in first.text.splitlines() if line and not line.startswith("#")]
    assert commands == [
        f"bash scripts/setup.sh && {DEMO_COMMAND}",
        "bash scripts/setup.sh && .venv/bin/python -m pytest",
    ]


def test_the_demo_budget_is_the_demo_preset_made_small(tmp_path):
    repo = make_scratch(tmp_path)
    done = run_text([".venv/bin/hscl", "config", "show", "--preset", "demo"], repo)
    shown = yaml.safe_load(done.stdout)
    assert shown["train"]["epochs"] == 1 and shown["data"]["options"]["n_train"] == 32
    assert (
        shown["model"]
        == yaml.safe_load(
            subprocess.run(
                [sys.executable, "-m", "hscl.cli", "config", "show", "--preset", "demo"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )["model"]
    )
    assert not (ROOT / "src" / "hscl" / "presets" / "demo.yaml").read_text().count("n_train: 32")
    assert (repo / "tests").resolve() == ROOT / "tests" and not (repo / "docs").is_symlink()
    assert (repo / "README.md").read_text() == (ROOT / "README.md").read_text() and not (repo / "runs").exists()


def test_a_block_that_does_not_end_is_stopped_with_what_it_started(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "BLOCK_TIMEOUT", 1)
    repo = make_scratch(tmp_path)
    pid_file = tmp_path / "server.pid"
    with pytest.raises(AssertionError, match="did not finish within 1 s"):
        run_text(["bash", "-c", f"sleep 600 >/dev/null 2>&1 & echo $! > {pid_file}; echo serving; sleep 600"], repo)
    server = Path("/proc") / pid_file.read_text().strip()
    give_up = time.monotonic() + 60
    while server.exists() and "\nState:\tZ" not in (server / "status").read_text() and time.monotonic() < give_up:
        time.sleep(0.05)  # the kill is sent at once; this waits for the kernel to show it
    assert not server.exists() or "\nState:\tZ" in (server / "status").read_text()


def test_a_failing_block_names_its_file_and_line(tmp_path):
    repo = make_scratch(tmp_path)
    block = Block(ROOT / "README.md", 7, "bash", "echo before\nfalse\necho after\n", None)
    with pytest.raises(AssertionError, match=r"README.md:7: the bash block failed \(exit status 1\)"):
        run_block(block, block.text, repo)
    console = Block(ROOT / "README.md", 9, "console", "$ echo hello\nhello\n$ echo x\ny\n", None)
    with pytest.raises(AssertionError, match=r"README.md:9: `\$ echo x` did not print the line\n  y"):
        run_block(console, console.text, repo)


# --- config keys quoted in the docs -------------------------------------------------------------------------------
SECTIONS = ("data", "model", "loss", "train")
OVERRIDE = re.compile(r"(?<![\w./-])((?:" + "|".join(SECTIONS) + r")(?:\.[A-Za-z_]\w*)+)=")
OPTION = re.compile(r"--option\s+['\"]?([a-z_]\w*)=")  # KEY=VALUE in capitals is a placeholder
FIELD_IN_CODE = re.compile(r"`((?:" + "|".join(SECTIONS) + r")(?:\.[A-Za-z_]\w*)+)`")
FILE_SUFFIXES = {"py", "yaml", "md", "json", "csv", "txt", "npy", "npz", "pkl", "jsonl", "pt"}
READER_KEYS = {name for options in READER_OPTIONS.values() for name in options.model_fields}


def _model_of(annotation) -> type[BaseModel] | None:
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def config_key_exists(path: str) -> bool:
    """Whether the dotted `path` names a field of a run config (reader options: of some format's reader)."""
    parts = path.split(".")
    model: type[BaseModel] | None = RunConfig
    for index, part in enumerate(parts):
        if model is None or part not in model.model_fields:
            return False
        if model is DataConfig and part == "options":
            rest = parts[index + 1 :]
            return not rest or (len(rest) == 1 and rest[0] in READER_KEYS)
        model = _model_of(model.model_fields[part].annotation)
    return True


def quoted_keys(text: str) -> set[str]:
    """Config paths the text quotes: `--set KEY=...`, `KEY=VALUE` overrides, and a field named alone as code."""
    keys = set(OVERRIDE.findall(text)) | {f"data.options.{key}" for key in OPTION.findall(text)}
    keys |= {key for key in FIELD_IN_CODE.findall(text) if key.rsplit(".", 1)[1] not in FILE_SUFFIXES}
    return keys


def test_the_key_check_knows_good_keys_from_bad_ones():
    for good in ("train.progress_bar", "data.options", "data.options.n_train", "model.audio_encoder.n_heads"):
        assert config_key_exists(good), good
    for bad in ("train.progress", "data.options.bogus", "model.audio_encoder.heads", "train.epochs.x", "losses"):
        assert not config_key_exists(bad), bad
    text = (
        "--set train.lr_main=2e-4 and `loss.w1` in prose, overrides=['train.progress=false'], "
        "--option split_column=split_bclstm, --option KEY=VALUE, `config/train.py`, x.train.epochs=3, `hscl.losses`"
    )
    assert quoted_keys(text) == {"train.lr_main", "loss.w1", "train.progress", "data.options.split_column"}


def test_every_config_key_the_docs_quote_exists():
    unknown = sorted(
        f"{path.relative_to(ROOT)}: {key}"
        for path in DOCS
        for key in quoted_keys(path.read_text(encoding="utf-8"))
        if not config_key_exists(key)
    )
    assert not unknown, "keys that are not config fields:\n" + "\n".join(unknown)


def test_a_file_that_uses_the_demo_run_without_making_it_is_given_one():
    def block(text: str, skip: str | None = None) -> Block:
        return Block(ROOT / "README.md", 1, "bash", text + "\n", skip)

    uses = block(".venv/bin/hscl report runs/demo")
    assert uses_demo([uses]) and not makes_demo([uses])
    assert makes_demo([block(f"bash scripts/setup.sh && {DEMO_COMMAND}"), uses])
    assert not uses_demo([block("ls runs/demo-python runs/demo2")]) and not uses_demo([block("ls runs/demo", "x")])
