"""The tables that describe the method check each other on import, and the modules keep their floors.

Each table is broken on purpose in a copy of vplan_core, and importing what reads it must fail
with a message that names the broken entry: a loss kind without its function, a LossConfig
without a constant, a label kind without its reader, a row setting a constant its loss does not
read, a family whose registry line leaves out a training key its builder reads, a feature whose
spec names a key its settings do not define, a loss constant whose config key the schema lacks.
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from tests.paths import REPO
from vplan_core.config import ConfigError, load_schema
from vplan_core.method.ablation import LABEL_KINDS, ROWS, LabelKind, Labels, check_rows, pld
from vplan_core.paths import RunPaths
from vplan_core.plan import LABELLED_MODALITIES, row_job

PACKAGE = REPO / "vplan_core"

# Each module imports only from layers below its own (a package counts as one module): the
# method and the paths at the bottom, the registries above them, data/ above those, then the
# extractors and the parsers, the evaluation, the training, the plan, and the commands on top.
LAYERS = (
    ("atomic", "logs", "paths", "method"),
    ("feature_registry", "feature_store"),
    ("data",),
    ("features", "models"),
    ("evaluation",),
    ("training", "demo"),
    ("plan", "config"),
    ("parse", "run_lock"),
    ("cli",),
)
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The vplan_core modules a file imports anywhere (inside functions and TYPE_CHECKING blocks too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("vplan_core.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vplan_core"):
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= {name for name in submodules if _is_module(name)}
            if node.module != "vplan_core":
                found.add(node.module)
    return found


def _is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): imported_modules(path) for path in PACKAGE.rglob("*.py")}


def unit(module: str) -> str:
    """The top-level module or package of a vplan_core module."""
    return module.split(".")[1]


def test_every_module_has_a_floor():
    assert {unit(module) for module in import_graph() if module != "vplan_core"} <= set(LAYER)


def test_imports_keep_their_floors():
    """No module imports one of its own layer's other packages or a layer above (so no circle
    between packages), in particular: data/ no features/, method/ no feature registry."""
    wrong = [f"{module} imports {dep}" for module, deps in import_graph().items() if module != "vplan_core"
             for dep in deps if unit(dep) != unit(module) and LAYER[unit(dep)] >= LAYER[unit(module)]]
    assert not wrong, "\n".join(wrong)


def test_no_module_circle():
    """No circle between modules either (training's settings are below the trainer and its step)."""
    graph = import_graph()

    def visit(module: str, path: tuple[str, ...]) -> None:
        for dep in sorted(graph.get(module, ())):
            if dep in path:
                raise AssertionError(f"import circle: {' -> '.join(path[path.index(dep):] + (dep,))}")
            if dep not in done:
                visit(dep, (*path, dep))
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        visit(module, (module,))


def import_broken(tmp_path: Path, file: str, old: str, new: str, statement: str) -> str:
    """Import `statement` with `old` replaced by `new` in a copy of vplan_core/<file>; its stderr."""
    copy = tmp_path / "vplan_core"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    source = (copy / file).read_text()
    assert source.count(old) == 1, f"{old!r} is not once in {file}: update this test"
    (copy / file).write_text(source.replace(old, new))
    result = subprocess.run([sys.executable, "-c", statement], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode != 0, f"{statement} did not fail with {file} broken"
    return result.stderr


@pytest.mark.parametrize("file, old, new, statement, message", [
    ("method/losses.py", "def richness_aware_loss(", "def richness_loss_renamed(", "import vplan_core.plan",
     "LOSS_KINDS['plg_rl']: its function 'richness_aware_loss' is not defined in vplan_core.method.losses"),
    ("method/losses.py", "    rl_eps: float = 1.0e-6\n", "", "import vplan_core.method.losses",
     "LossConfig's constants"),
    ("training/outputs.py", "class SeedLabels:", "class PerSeedLabels:", "import vplan_core.plan",
     "LABEL_KINDS['pld']: its reader 'SeedLabels' is not defined in vplan_core.training.outputs"),
    ("method/ablation.py", '"plg_rl", visual=plg("clip"), control="row2_plg"),', '"plg_rl", visual=plg("clip"), control="row2_plg", constants={"tau": 0.1}),',
     "import vplan_core.plan", "row row4_plg_rl: sets ['tau'], which loss 'plg_rl' does not read"),
    ("models/__init__.py", 'train_keys=("d_model", "dropout")', 'train_keys=("dropout",)',
     "from vplan_core.models import family; family('han')",
     "parser family 'han': its builder reads train.['d_model', 'dropout'], its registry line"),
    ("feature_registry.py", 'settings={"model_name": NAME, ', "settings={",
     "import vplan_core.feature_registry", "FEATURES['clip'] names features.clip.['model_name']"),
    ("method/ablation.py", '"rl_eps": ("rl", "eps")', '"rl_eps": ("rl", "epsilon")',
     "from vplan_core.config import load_schema; load_schema()",
     "ablation.CONSTANT_KEYS['rl_eps'] is config key 'rl.epsilon', which the schema"),
])
def test_a_broken_table_fails_its_import_naming_the_entry(tmp_path, file, old, new, statement, message):
    assert message in import_broken(tmp_path, file, old, new, statement)


DEMO = yaml.safe_load((REPO / "config.yaml").read_text())


def test_a_row_sets_its_own_loss_constants(monkeypatch):
    """④ with half the RL: its job's settings carry its own λ, the config's other constants, and
    a change of the config's λ reruns the rows that read it, not this one."""
    row = replace(ROWS["row4_plg_rl"], name="row4_half_rl", constants={"rl_lambda": 0.25})
    monkeypatch.setitem(ROWS, row.name, row)
    check_rows(ROWS, LABELLED_MODALITIES)

    def settings(config: dict, name: str) -> dict:
        return row_job(RunPaths("demo"), config, name, "0", "han").params

    own, rl = settings(DEMO, row.name)["settings"]["loss"], settings(DEMO, "row4_plg_rl")["settings"]["loss"]
    assert own == {**rl, "rl_lambda": 0.25} and rl["rl_lambda"] == DEMO["rl"]["lambda"]
    changed = {**DEMO, "rl": {**DEMO["rl"], "lambda": 0.75}}
    assert settings(changed, row.name) == settings(DEMO, row.name) != settings(changed, "row4_plg_rl")
    monkeypatch.setitem(ROWS, row.name, replace(row, constants={"rl_distance": "cosine"}))
    with pytest.raises(ConfigError, match=re.escape("row row4_half_rl: its rl_distance 'cosine' is no valid 'rl.distance'")):
        load_schema()


def test_a_label_kind_without_a_file_is_built_by_the_training_job(monkeypatch):
    """A kind whose LABEL_KINDS entry has no path gives its rows' jobs no input for it: the job's
    params name the kind, whose reader builds the labels."""
    monkeypatch.setitem(LABEL_KINDS, "video", LabelKind("the video label", lambda *args: None, None, "SharedLabels"))
    row = replace(ROWS["row6_plg_av"], name="row6_video_audio", audio=Labels("video"))
    monkeypatch.setitem(ROWS, row.name, row)
    check_rows(ROWS, LABELLED_MODALITIES)
    job = row_job(RunPaths("demo"), DEMO, row.name, "0", "han")
    assert set(job.inputs) == {"labels_visual"} and job.params["labels"] == {"visual": "plg", "audio": "video"}
    with pytest.raises(ValueError, match=re.escape("row row7_bad: PLD of 'row6_video_audio''s audio labels")):
        check_rows({**ROWS, "row7_bad": replace(ROWS["row7_plg_av_pld"], name="row7_bad", visual=pld(row.name),
                                                audio=pld(row.name))}, LABELLED_MODALITIES)
