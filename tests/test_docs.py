"""The docs cite only what exists (tests/docs_check.py), and the checker fails when they do not:
on a cited path, module, config key, make target, script option or results path that is not
there, and on a real doc with one cited path renamed."""
import pytest

from tests.docs_check import (ARCHITECTURE, ROOT, TABLE_END, TABLE_START, check_docs, check_text, module_table,
                              table_in)

README = ROOT / "README.md"


def problems_of(text: str, doc=README) -> list[str]:
    return [f"{p.line}: {p.why}" for p in check_text(text, doc)]


def test_the_docs_cite_only_what_exists():
    problems = check_docs()
    assert not problems, "stale references in the docs:\n" + "\n".join(map(str, problems))


def test_the_module_table_is_current():
    assert table_in(ARCHITECTURE.read_text()) == module_table(), (
        "docs/architecture.md's module table is not the package's: run "
        "`.venv/bin/python -m tests.docs_check --write` and commit docs/architecture.md")


GOOD = """
# A heading
[the architecture](docs/architecture.md#adding-things), [a folder](docs/notes/), [here](#a-heading)
`bench/compare_runs.py`, `docs/notes/*_official.md`, `rules/<stage>.smk`, `models/han.py`, `vplan_core/`
`vplan_core.paths`, `vplan_core.data.description.LLP`, `vplan_core.paths.RunPaths.model_dir`, `tests.workflow_runs.run_tiny_demo`
`train.lr`, `plg.clip.tau`, `models.<name>.family`, `features.<feature>.batch_size`, `demo.*_training.batch_size`
`train.device: cuda`, `rl.distance: l1`, `train.*`, `plan.row_job`
`make demo RUNDIR=DIR`, `make test`, `.venv/bin/python bench/compare_runs.py RUN_A RUN_B --renamed OLD=NEW`
`results/<ds>/models/han/row5_vplan/seeds_0-1-2/seed_0/model.pt`, `labels/pld/<family>/<stage-1 row>/seeds_<g>/`
`results/demo/labels/plg/clip/train.npz`, `eval/label_quality/han/row4_plg_rl/visual/seeds_0-1-2.json`
`logs/<dataset>/`, `resources/demo/backbones/`, (`.ci/run`), `.venv/bin/python`, `report.json`, `label_quality.audio`, `nets/mgn.py`, `../shared/llp`
```bash
snakemake --profile profiles/slurm --configfile config/llp.yaml --forcerun train_row
snakemake --cores 2 --config 'pld={alpha: 7.5}'
.venv/bin/vplan parse clip.mp4 --checkpoint results/demo/models/han/row5_vplan/seeds_0-1-2/seed_0/model.pt
```
```
  config key 'train.lr': '1e-4' is a string
```
"""


def test_what_exists_passes():
    assert problems_of(GOOD) == []


@pytest.mark.parametrize("cited, why", [
    ("[gone](docs/nowhere.md)", "no such file or folder: docs/nowhere.md"),
    ("[gone](docs/architecture.md#no-such-heading)", "no heading with the anchor #no-such-heading"),
    ("`bench/no_such_bench.py`", "no such file in the repository"),
    ("(`.ci/no_such_script`)", "no such file in the repository"),
    ("`studies/<nothing>_here.py`", "no such file in the repository"),
    ("`models/no_such_family.py`", "no such file in the repository"),
    ("`vplan_core.no_such_module`", "vplan_core defines no no_such_module"),
    ("`tests.no_such_module.run`", "tests defines no no_such_module"),
    ("`vplan_core.paths.NoSuchThing`", "vplan_core.paths defines no NoSuchThing"),
    ("`vplan_core.paths.RunPaths.no_such_path`", "RunPaths has no no_such_path"),
    ("`plan.no_such_function`", "vplan_core.plan defines no no_such_function"),
    ("`train.no_such_key`", "no config key 'no_such_key' under train"),
    ("`plg.<name>.no_such_key`", "no config key 'no_such_key' under plg.<name>"),
    ("`rl.distance: cosine`", "'cosine' is not one of"),
    ("`make no-such-target`", "the Makefile has no target 'no-such-target'"),
    ("`make demo NO_SUCH_VARIABLE=1`", "the Makefile has no variable NO_SUCH_VARIABLE"),
    ("`.venv/bin/python bench/compare_runs.py A B --no-such-option`", "takes no option --no-such-option"),
    ("`vplan evaluate PRED.npz --no-such-option`", "vplan takes no option --no-such-option"),
    ("`snakemake --forcerun no_such_rule`", "no rule 'no_such_rule'"),
    ("`snakemake --config 'pld={beta: 1}'`", "no config key 'beta' under pld"),
    # the old results layout of docs/architecture.md
    ("`results/<ds>/models/<row>/seeds_<s1-s2-...>/seed_<s>/`", "no path vplan_core.paths.RunPaths makes"),
    ("`labels/pld/seeds_<...>/seed_<s>/train.npz`", "no path vplan_core.paths.RunPaths makes"),
    ("`results/demo/models/han/row9_nothing/seeds_0/`", "no path vplan_core.paths.RunPaths makes"),
    ("```\n  config key 'train.nope': 1 is not a number\n```", "no config key 'nope' under train"),
])
def test_what_does_not_exist_fails(cited, why):
    problems = problems_of(f"# Title\n\nSome text\n{cited}\nand more.\n")
    assert len(problems) == 1 and why in problems[0], problems


@pytest.mark.parametrize("doc, cited, renamed", [
    (README, "bench/compare_runs.py", "bench/compare_run.py"),
    (ARCHITECTURE, "method/ablation.py", "method/ablations.py"),
    (ARCHITECTURE, "models/<family>/<row>/seeds_<g>/seed_<s>/", "models/<row>/seeds_<g>/seed_<s>/"),
    (README, "docs/architecture.md#adding-things", "docs/architecture.md#adding-a-thing"),
])
def test_a_renamed_path_in_a_real_doc_fails(doc, cited, renamed):
    text = doc.read_text()
    assert cited in text
    problems = check_text(text.replace(cited, renamed), doc)
    assert problems and all(renamed in p.cited or renamed.split("#")[0] in p.cited for p in problems), problems


def test_the_module_table_has_every_module():
    table = module_table()
    for path in (ROOT / "vplan_core").rglob("*.py"):
        if path.name != "__init__.py":
            assert f"`{path.relative_to(ROOT / 'vplan_core').as_posix()}`" in table
    assert TABLE_START in ARCHITECTURE.read_text() and TABLE_END in ARCHITECTURE.read_text()
