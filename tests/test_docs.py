"""The documentation: strict build, executed examples, generated figures, a real browser.

* ``test_mkdocs_build_strict``: ``mkdocs build --strict`` (any warning fails: broken link,
  missing anchor, missing API object).
* ``test_docs_examples[<page>]``: every ```` ```python ```` block of every page under ``docs/``
  runs, page by page, top to bottom, in a fresh subprocess (blocks of one page share their
  namespace, like a notebook). A block directly preceded by ``<!-- no-exec: reason -->`` is
  shown but not run. Long trainings are cut short by the documented knob
  ``DQN_AGENTS_DOCS_TIMESTEPS`` (see ``docs/contributing.md``): ``DQN.learn`` is capped at that
  many agent steps, ``DQN.evaluate`` at ``DQN_AGENTS_DOCS_EPISODES`` episodes.
* ``test_figure_scripts``: the scripts in ``docs/scripts/`` regenerate their figures.
* ``test_site_in_browser`` (marker ``browser``): headless Chromium opens the built site.
"""

from __future__ import annotations

import functools
import http.server
import importlib
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

# Docs builds, docs examples and the browser check: minutes, so CI's `pytest -m slow` runs them.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

#: Default cap on ``DQN.learn`` steps while executing the docs (override with the env var).
DOCS_TIMESTEPS = int(os.environ.get("DQN_AGENTS_DOCS_TIMESTEPS", "200"))
DOCS_EPISODES = int(os.environ.get("DQN_AGENTS_DOCS_EPISODES", "1"))

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)\n"
    r"(?P<body>.*?)"
    r"^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
NO_EXEC = re.compile(r"<!--\s*no-exec:\s*(?P<reason>.+?)\s*-->\s*$")


def import_from(folder: Path, name: str) -> ModuleType:
    """Import the module ``name`` from ``folder`` (``tests/``, ``docs/hooks/``: no packages)."""
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("NO_MKDOCS_2_WARNING", "1")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("SDL_VIDEODRIVER", "dummy")
    env.setdefault("SDL_AUDIODRIVER", "dummy")
    env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


# --------------------------------------------------------------------------- strict build


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the site once (strict) for the build test and the browser test."""
    site = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"mkdocs build --strict failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return site


def test_mkdocs_build_strict(built_site: Path) -> None:
    index = (built_site / "index.html").read_text(encoding="utf-8")
    assert "dqn-agents" in index
    pages = [
        "installation",
        "quickstart",
        "preprocessing",
        "other-libraries",
        "agent",
        "hub",
        "benchmarks",
        "architecture",
        "contributing",
        "changelog",
    ]
    api = ["dqn_agents", "wrappers", "hub", "config", "networks", "functional", "replay"]
    api += ["learner", "device_replay", "serialization", "evaluation", "envs", "callbacks", "cli"]
    for page in pages + [f"api/{name}" for name in api]:
        assert (built_site / page / "index.html").is_file(), page
    # The API pages hold the objects they promise.
    wrappers = (built_site / "api" / "wrappers" / "index.html").read_text(encoding="utf-8")
    for name in ("make_atari", "make_atari_vector", "AtariOptions", "resolve_env_id"):
        assert f'id="dqn_agents.wrappers.{name}"' in wrappers, name
    agent = (built_site / "api" / "dqn_agents" / "index.html").read_text(encoding="utf-8")
    assert 'id="dqn_agents.agent.DQN.learn"' in agent
    # Docstring normalisation: no Sphinx roles, doctests rendered as code.
    assert ":func:" not in wrappers and ":class:" not in wrappers
    # The hyperparameter table was generated from DQNConfig.
    assert "learning_starts" in (built_site / "agent" / "index.html").read_text("utf-8")


#: The modules whose ``__all__`` the API reference must cover, name by name.
PUBLIC_MODULES = [
    "dqn_agents",
    "dqn_agents.agent",
    "dqn_agents.wrappers",
    "dqn_agents.hub",
    "dqn_agents.hub.card",
    "dqn_agents.hub.pull",
    "dqn_agents.hub.push",
    "dqn_agents.hub.errors",
    "dqn_agents.hub.api",
    "dqn_agents.hub.importers",
    "dqn_agents.config",
    "dqn_agents.networks",
    "dqn_agents.functional",
    "dqn_agents.replay",
    "dqn_agents.learner",
    "dqn_agents.spec",
    "dqn_agents.devices",
    "dqn_agents.checkpoint",
    "dqn_agents.stats",
    "dqn_agents.device_replay",
    "dqn_agents.serialization",
    "dqn_agents.evaluation",
    "dqn_agents.envs",
    "dqn_agents.callbacks",
    "dqn_agents.cli",
    "dqn_agents.argtypes",
    "dqn_agents.memory",
    "dqn_agents.interrupts",
    "dqn_agents.hub_surface",
    "dqn_agents.lazy",
    "dqn_agents.sb3_surface",
    "dqn_agents.suite",
    "dqn_agents.suite.runner",
    "dqn_agents.suite.trainable",
    "dqn_agents.suite.protocol",
    "dqn_agents.suite.events",
    "dqn_agents.suite.report",
    "dqn_agents.suite.scores",
    "dqn_agents.suite.records",
    "dqn_agents.suite.plots",
]


def test_api_reference_covers_every_public_name(built_site: Path) -> None:
    """Each name in each public module's ``__all__`` has an anchor on some API page.

    A re-exported object counts when it is rendered under any public path that holds the
    very same object: ``dqn_agents.hub.push.push_to_hub`` is documented as
    ``dqn_agents.hub.push_to_hub``, ``dqn_agents.PRESETS`` as ``dqn_agents.config.PRESETS``.
    """
    import importlib

    anchors: set[str] = set()
    for page in (built_site / "api").rglob("*.html"):
        anchors.update(re.findall(r'id="(dqn_agents[\w.]*)"', page.read_text("utf-8")))

    def rendered(obj: object, name: str) -> bool:
        for anchor in anchors:
            prefix, _, last = anchor.rpartition(".")
            if last != name:
                continue
            try:
                holder = importlib.import_module(prefix)
            except ImportError:  # a class attribute, not a module-level name
                continue
            if getattr(holder, name, None) is obj:
                return True
        return False

    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        assert module.__all__, module_name
        for name in module.__all__:
            if name.startswith("__"):
                continue
            if not rendered(getattr(module, name), name):
                missing.append(f"{module_name}.{name}")
    assert not missing, f"public names without an API reference entry: {missing}"


# --------------------------------------------------------------------------- doc examples


def extract_python_blocks(markdown: str) -> list[tuple[int, str, str | None]]:
    """Return ``(line, code, skip_reason)`` for each ```` ```python ```` fence of a page.

    Indented fences (inside admonitions or tabs) are dedented. ``skip_reason`` is the text of a
    ``<!-- no-exec: reason -->`` comment on the line right before the fence, else ``None``.
    """
    blocks = []
    for match in FENCE.finditer(markdown):
        info = match.group("info").strip()
        lang = info.split()[0].lstrip("{").lstrip(".") if info else ""
        if lang != "python":
            continue
        line = markdown.count("\n", 0, match.start()) + 1
        before = markdown[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = NO_EXEC.search(before)
        body = textwrap.dedent(match.group("body"))
        blocks.append((line, body, skip.group("reason") if skip else None))
    return blocks


def _pages_with_examples() -> list[Path]:
    return sorted(
        p
        for p in DOCS.rglob("*.md")
        if any(skip is None for _, _, skip in extract_python_blocks(p.read_text("utf-8")))
    )


PREAMBLE = """
import functools, inspect, os
_CAP = int(os.environ["DQN_AGENTS_DOCS_TIMESTEPS"])
_EPISODES = int(os.environ["DQN_AGENTS_DOCS_EPISODES"])


def _cap(cls, method_name, arg, cap):
    method = getattr(cls, method_name, None)
    if method is None:
        return
    sig = inspect.signature(method)

    @functools.wraps(method)
    def capped(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        if bound.arguments.get(arg) is not None:
            bound.arguments[arg] = min(int(bound.arguments[arg]), cap)
        return method(*bound.args, **bound.kwargs)

    setattr(cls, method_name, capped)


try:
    from dqn_agents.agent import DQN as _DQN
except ImportError:
    _DQN = None
if _DQN is not None:
    _cap(_DQN, "learn", "total_timesteps", _CAP)
    _cap(_DQN, "evaluate", "n_episodes", _EPISODES)
if os.environ.get("DQN_AGENTS_DOCS_USES_SB3") == "1":
    import stable_baselines3 as _sb3

    for _algo in (_sb3.A2C, _sb3.DDPG, _sb3.DQN, _sb3.PPO, _sb3.SAC, _sb3.TD3):
        _cap(_algo, "learn", "total_timesteps", _CAP)
"""


def _runner_source(page: Path, blocks: list[tuple[int, str, str | None]]) -> str:
    parts = [PREAMBLE, "_ns = {'__name__': '__main__'}"]
    rel = page.relative_to(ROOT)
    for line, code, skip in blocks:
        if skip is not None:
            continue
        # The fence's first code line is line + 1; pad so tracebacks show markdown lines.
        padded = "\n" * line + code
        parts.append(
            f"print('--- {rel}:{line}', flush=True)\n"
            f"exec(compile({padded!r}, {str(rel)!r}, 'exec'), _ns)"
        )
    return "\n".join(parts) + "\n"


def _seed_hub(server: object, workdir: Path) -> None:
    """Put the third-party models the docs import into the loopback Hub.

    ``sb3/dqn-PongNoFrameskip-v4`` (an untrained SB3 ``CnnPolicy`` DQN saved by SB3 itself)
    and ``cleanrl/PongNoFrameskip-v4-dqn_atari-seed1`` (a ``dqn_atari.py``-layout state dict
    saved with ``torch.save``), so the import examples run against real file formats.
    """
    import torch
    from stable_baselines3 import DQN as SB3DQN

    from dqn_agents.wrappers import make_atari

    env = make_atari("PongNoFrameskip-v4")
    model = SB3DQN("CnnPolicy", env, buffer_size=100, learning_starts=0, seed=0, device="cpu")
    sb3_zip = workdir / "dqn-PongNoFrameskip-v4.zip"
    model.save(sb3_zip)
    env.close()
    torch.manual_seed(0)
    cleanrl_file = workdir / "dqn_atari.cleanrl_model"
    cleanrl = import_from(ROOT / "tests", "foreign_models").CleanRLQNetwork(6)
    torch.save(cleanrl.state_dict(), cleanrl_file)  # keys "network.<i>.*"
    server.put_files(  # type: ignore[attr-defined]
        "sb3/dqn-PongNoFrameskip-v4", {sb3_zip.name: sb3_zip.read_bytes()}
    )
    server.put_files(  # type: ignore[attr-defined]
        "cleanrl/PongNoFrameskip-v4-dqn_atari-seed1",
        {cleanrl_file.name: cleanrl_file.read_bytes()},
    )


@pytest.fixture(scope="session")
def docs_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object | None]:
    """The test suite's loopback Hub server (``tests/hub_server.py``), seeded for the docs."""
    try:
        hub_server = import_from(ROOT / "tests", "hub_server")
    except ImportError:
        yield None
        return
    with hub_server.HubServer() as server:
        _seed_hub(server, tmp_path_factory.mktemp("hub-seed"))
        yield server


def _hub_env(server: object, home: Path) -> dict[str, str]:
    hub_server = import_from(ROOT / "tests", "hub_server")
    env: dict[str, str] = hub_server.client_env(server, str(home), token="hf_docs_test_token")
    return env


@pytest.mark.parametrize(
    "page", _pages_with_examples(), ids=lambda p: str(p.relative_to(DOCS)).replace("/", ".")
)
def test_docs_examples(page: Path, tmp_path: Path, docs_hub: object | None) -> None:
    blocks = extract_python_blocks(page.read_text("utf-8"))
    runner = tmp_path / "run_docs_page.py"
    runner.write_text(_runner_source(page, blocks), encoding="utf-8")
    env = _env()
    env["DQN_AGENTS_DOCS_TIMESTEPS"] = str(DOCS_TIMESTEPS)
    env["DQN_AGENTS_DOCS_EPISODES"] = str(DOCS_EPISODES)
    env["DQN_AGENTS_REPO_ROOT"] = str(ROOT)
    if "stable_baselines3" in "".join(code for _, code, skip in blocks if skip is None):
        env["DQN_AGENTS_DOCS_USES_SB3"] = "1"
    if docs_hub is not None:
        env.update(_hub_env(docs_hub, tmp_path / "hf_home"))
    try:
        proc = subprocess.run(
            [sys.executable, str(runner)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else str(exc.stdout)
        pytest.fail(f"examples in {page.relative_to(ROOT)} ran over 240 s; last output:\n{out}")
    if proc.returncode != 0:
        pytest.fail(
            f"examples in {page.relative_to(ROOT)} failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )


def test_extract_python_blocks() -> None:
    page = textwrap.dedent(
        """\
        Text.

        ```python
        a = 1
        ```

        <!-- no-exec: needs a GPU -->
        ```python
        b = 2
        ```

        === "Tab"

            ```python
            c = 3
            ```

        ```bash
        echo no
        ```
        """
    )
    blocks = extract_python_blocks(page)
    assert [(code.strip(), skip) for _, code, skip in blocks] == [
        ("a = 1", None),
        ("b = 2", "needs a GPU"),
        ("c = 3", None),
    ]
    assert blocks[0][0] == 3


# --------------------------------------------------------------------------- figure scripts


def test_observation_stack_script(tmp_path: Path) -> None:
    out = tmp_path / "observation_stack.png"
    subprocess.run(
        [sys.executable, str(DOCS / "scripts" / "observation_stack.py"), "--output", str(out)],
        cwd=ROOT,
        env=_env(),
        check=True,
        timeout=180,
    )
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_benchmark_figures_script(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(DOCS / "benchmarks" / "results", results)
    wrappers_raw = tmp_path / "wrappers-raw.json"
    wrappers_raw.write_text(
        json.dumps(
            {
                "machine": {"cpus": 2, "python": "3.11", "ale_py": "0.12", "gymnasium": "1.4"},
                "steps": 4000,
                "repeats": 3,
                "game": "Pong",
                "single_env_steps_per_s": {"ours make_atari": 3000.0, "sb3": 2500.0},
                "vector": {"4": {"env_steps_per_s": {"ours (ale)": 4300.0}, "ratio": 1.0}},
            }
        ),
        encoding="utf-8",
    )
    subprocess.run(
        [
            sys.executable,
            str(DOCS / "scripts" / "benchmark_figures.py"),
            "--results-dir",
            str(results),
            "--output-dir",
            str(tmp_path),
            "--wrappers-json",
            str(wrappers_raw),
        ],
        cwd=ROOT,
        env=_env(),
        check=True,
        timeout=180,
    )
    converted = json.loads((results / "wrappers.json").read_text(encoding="utf-8"))
    assert converted["rows"][0] == ["single env: ours make_atari", 3000]
    assert converted["source"] == "benchmarks/wrappers.py"
    pngs = sorted(tmp_path.glob("*.png"))
    assert tmp_path / "bench_wrappers.png" in pngs
    for png in pngs:
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), png


def test_griffe_docstring_normalisation() -> None:
    griffe_examples = import_from(DOCS / "hooks", "griffe_examples")
    text = "See :func:`make_atari` and :class:`~dqn_agents.wrappers.AtariId`.\n\nExample:\n"
    assert griffe_examples.normalise(text) == "See `make_atari` and `AtariId`.\n\nExamples:\n"


def test_benchmark_table_hook(tmp_path: Path) -> None:
    benchmark_tables = import_from(DOCS / "hooks", "benchmark_tables")
    (tmp_path / "demo.json").write_text(
        '{"title": "T", "machine": "M", "date": "2026-01-01", "columns": ["a", "b"],'
        ' "rows": [["x", 1234.5], ["y", 0.5]]}',
        encoding="utf-8",
    )
    table = benchmark_tables.render_table("demo", tmp_path)
    assert "| a | b |" in table and "| x | 1,234 |" in table and "Machine: M" in table
    assert "Placeholder" in benchmark_tables.render_table("missing", tmp_path)
    (tmp_path / "two.json").write_text(
        '{"title": "T", "source": "s.py", "tables": [{"caption": "C1", "columns": ["a"],'
        ' "rows": [["x"]]}, {"caption": "C2", "columns": ["b", "c"], "rows": [[1, 2]]}]}',
        encoding="utf-8",
    )
    two = benchmark_tables.render_table("two", tmp_path)
    assert two.index("*C1*") < two.index("| a |") < two.index("*C2*") < two.index("| b | c |")
    assert two.count("Script: `s.py`") == 1
    (tmp_path / "bad.json").write_text('{"tables": [{"caption": "C"}]}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"expected 'columns'.*\['caption'\]"):
        benchmark_tables.render_table("bad", tmp_path)
    (tmp_path / "empty.json").write_text('{"tables": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="'tables' is empty"):
        benchmark_tables.render_table("empty", tmp_path)


# --------------------------------------------------------------------------- real browser


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served_site(built_site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


LAYOUT_PROBLEMS = """
const out = {overflow: [], broken: [], overlap: false};
for (const table of document.querySelectorAll("article table")) {
  const wrap = table.closest(".md-typeset__scrollwrap") || table.parentElement;
  if (wrap.scrollWidth > wrap.clientWidth + 1) {
    const what = table.innerText.slice(0, 40);
    out.overflow.push(what + ": " + wrap.scrollWidth + " > " + wrap.clientWidth);
  }
}
for (const code of document.querySelectorAll("article td code")) {
  if (/^dqn_agents[.\\w]*$/.test(code.innerText) && code.getClientRects().length > 1) {
    out.broken.push(code.innerText);
  }
}
const title = document.querySelector(".md-nav--primary > .md-nav__title");
const items = document.querySelectorAll(".md-nav--primary .md-nav__link");
if (title && getComputedStyle(title).display !== "none") {
  const t = title.getBoundingClientRect();
  for (const item of items) {
    const r = item.getBoundingClientRect();
    if (r.height > 0 && r.top < t.bottom - 1 && r.bottom > t.top + 1) { out.overlap = true; }
  }
}
return out;
"""
"""Tables that overflow their column, module names broken inside a table cell, and the
sidebar's site title drawn over navigation entries (issue: the docs at 1366 px)."""


@pytest.mark.browser
def test_site_in_browser(served_site: str, tmp_path: Path) -> None:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if IN_CI:
            pytest.fail("CI=true but /usr/bin/chromium or /usr/bin/chromedriver is missing")
        pytest.skip("Debian chromium + chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1366,768",  # a common laptop
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(60)
        wait = WebDriverWait(driver, 30)

        def h1_text() -> str:
            return wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "article h1"))).text

        driver.get(served_site)
        assert "dqn-agents" in h1_text()
        search = wait.until(
            ec.presence_of_element_located((By.CSS_SELECTOR, "input.md-search__input"))
        )
        assert search.get_attribute("placeholder")
        artifacts = Path(os.environ.get("DQN_AGENTS_ARTIFACTS") or tmp_path)
        artifacts.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(artifacts / "docs-home.png"))

        driver.get(served_site + "quickstart/")
        assert "Quickstart" in h1_text()
        assert driver.find_elements(By.CSS_SELECTOR, "input.md-search__input")
        assert driver.find_elements(By.CSS_SELECTOR, "pre code")

        driver.get(served_site + "api/dqn_agents/")
        assert "dqn_agents" in h1_text()
        assert driver.find_elements(By.CSS_SELECTOR, "div.doc.doc-object"), "no API objects"
        assert driver.find_elements(By.CSS_SELECTOR, "input.md-search__input")

        # Layout at 1366 px: what a reader sees, page by page (screenshots kept).
        for page in ("", "benchmarks/", "api/", "agent/", "preprocessing/", "hub/"):
            driver.get(served_site + page)
            h1_text()
            problems = driver.execute_script(LAYOUT_PROBLEMS)
            name = page.strip("/").replace("/", "-") or "home"
            assert driver.save_screenshot(str(artifacts / f"docs-1366-{name}.png"))
            assert problems == {"overflow": [], "broken": [], "overlap": False}, (page, problems)
    finally:
        driver.quit()
