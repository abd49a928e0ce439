"""VALOR's three recipes (VALOR, VALOR+, VALOR++) as parsers of config/llp.yaml: a parser's inputs
chosen from the feature registry (models.<name>.inputs), recipes of one family under names of
their own (models.<name>.family), VALOR's released CLAP feature maps as the clap_maps store, and
each configuration mistake a named error. The workflow runs are in tests/test_valor_workflow.py."""
from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import yaml

from tests.test_plan import DEMO, LLP, llp
from tests.workflow_runs import REPO
from vplan_core.config import ConfigError, validate_config
from vplan_core.data.manifest import make_record
from vplan_core.data.official import OfficialFeatureError, import_map_shard, map_problems
from vplan_core.feature_registry import DEFAULT_INPUTS, FEATURES
from vplan_core.feature_store import open_store
from vplan_core.method.ablation import ROWS
from vplan_core.models.valor import RECIPES
from vplan_core.plan import feature_sources, model_family, model_inputs, model_rows, train_settings, trained_models
from vplan_core.training.checkpoints import checkpoint_inputs
from vplan_core.training.trainer import TrainConfig

# Franklin905/VALOR@2677da9 scripts/train_valor{,+,++}.sh, flag by flag (beta2 and nhead: main_avvp.py's
# defaults, which the scripts leave as they are); the folders --audio_dir, --video_dir, --st_dir as
# the registry's features
SHARED = dict(batch_size=64, epochs=60, optimizer="adamw", weight_decay=1e-3, schedule="warmup_cosine",
              warmup_epochs=10, grad_clip=1.0, betas=(0.5, 0.999), eps=1e-8)
OFFICIAL = {
    "valor": (dict(lr=1e-4, min_lr=1e-6), dict(hidden_dim=512, nhead=8, ff_dim=1024, num_layers=1, norm_where="post_norm"),
              {"audio": "vggish", "visual_2d": "cnn2d", "visual_3d": "r2plus1d"}),  # feats/vggish, res152, r2plus1d_18
    "valor_plus": (dict(lr=3e-4, min_lr=3e-6), dict(hidden_dim=256, nhead=8, ff_dim=1024, num_layers=4,
                                                   norm_where="post_norm"),
                   {"audio": "vggish", "visual_2d": "cnn2d", "visual_3d": "r2plus1d"}),
    "valor_plus_plus": (dict(lr=3e-4, min_lr=3e-6), dict(hidden_dim=256, nhead=8, ff_dim=1024, num_layers=4,
                                                        norm_where="post_norm", audio_maps=True),
                        {"audio": "clap_maps", "visual_2d": "clip", "visual_3d": "r2plus1d"}),  # CLAP/, CLIP/features
}
VALOR_ROWS = ["valor_released", "valor_released_pld"]  # llp.yaml has no audio PLG: valor_plg is not planned


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_llp_recipes_are_the_official_scripts(name):
    schedule, kwargs, inputs = OFFICIAL[name]
    settings = train_settings(LLP, "valor", name)
    trained = TrainConfig(**settings)
    assert {key: getattr(trained, key) for key in (*SHARED, *schedule)} == {**SHARED, **schedule}
    assert trained.model == model_family(LLP, name) == "valor" and trained.model_kwargs == kwargs == RECIPES[name]
    assert trained.inputs == inputs == model_inputs(LLP, name)
    assert trained.dropout == 0.1 and "dropout" not in settings  # HANLayer's default: MMIL_Net passes none
    assert ("inputs" in settings) == (name == "valor_plus_plus")  # only a parser that chooses its inputs has them


def test_llp_trains_the_three_recipes_on_the_released_labels_under_their_names():
    sources = feature_sources(LLP, ROWS)
    assert trained_models(LLP)[-3:] == list(OFFICIAL)
    for name in OFFICIAL:
        assert model_rows(LLP, name, sources.rows) == VALOR_ROWS  # its own valor_released refines its labels
    assert sources.imported == {**{f: "dataset.official_features" for f in ("vggish", "cnn2d", "r2plus1d")},
                                "clip": "dataset.clip_features", "clap_maps": "dataset.clap_feature_maps"}
    assert sources.extracted == () and sources.maps == ("clap_maps",) and sources.producer("clap_maps") == (
        "import_feature_maps")


@pytest.mark.parametrize("config", [DEMO, llp(official_features="o", videos="v")], ids=["demo", "llp-paper"])
def test_a_config_that_chooses_no_inputs_keeps_its_settings(config):
    """No inputs in any job's settings (Snakemake reruns nothing), and the HAN features read."""
    sources = feature_sources(config, ROWS)
    for model in trained_models(config):
        assert model_inputs(config, model) == DEFAULT_INPUTS
        for row in model_rows(config, model, sources.rows):
            settings = train_settings(config, ROWS[row].loss, model)
            assert "inputs" not in settings and settings["model"] == model
            assert TrainConfig(**settings).inputs == DEFAULT_INPUTS


def llp_with(**models) -> dict:
    """config/llp.yaml with models.<name> sections replaced or added (values merged)."""
    config = copy.deepcopy(LLP)
    for name, section in models.items():
        config["models"][name] = {**config["models"].get(name, {}), **section}
    return config


@pytest.mark.parametrize("models, expected", [
    ({"han": {"inputs": {"audio": "clap_maps"}}},
     "config key 'models.han.inputs.audio': 'clap_maps' are feature maps of the whole clip [64, 768], but han reads "
     "its audio as one embedding a segment; only a parser that reads maps takes them (valor with "
     "models.han.kwargs.audio_maps: true)"),
    ({"valor_plus_plus": {"inputs": {"audio": "vggish", "visual_2d": "clip"}}},
     "config key 'models.valor_plus_plus.kwargs.audio_maps' is true (the audio is feature maps of the whole clip), "
     "but models.valor_plus_plus.inputs.audio is 'vggish', one embedding a segment; set "
     "models.valor_plus_plus.inputs.audio to a map feature (['clap_maps'])"),
    ({"valor_plus": {"family": None}}, "config key 'train.models' names 'valor_plus', which is no parser family"),
    ({"mgn": {"family": "valor"}}, "config key 'models.mgn.family': 'valor', but 'mgn' is a family's own name"),
    ({"valor_plus": {"pld_source": "mm_pyramids"}},
     "config key 'models.valor_plus.pld_source': 'mm_pyramids' is neither 'own' nor trained"),
])
def test_parser_mistakes_are_named_before_any_job(models, expected):
    config = llp_with(**models)
    for section in config["models"].values():
        if section.get("family", "") is None:
            del section["family"]
    with pytest.raises(ValueError) as error:
        feature_sources(config, ROWS)
    assert expected in str(error.value)


def test_a_parser_input_without_a_source_names_the_key_to_set():
    config = copy.deepcopy(LLP)
    del config["dataset"]["clap_feature_maps"]
    assert feature_sources(config, ROWS).producer("clap_maps") == "extract_features"  # features.clap_maps
    del config["dataset"]["videos"]
    with pytest.raises(ValueError, match=re.escape("config key 'models.valor_plus_plus.inputs.audio' is 'clap_maps', "
                                                   "which this run cannot make: set dataset.clap_feature_maps or "
                                                   "dataset.videos")):
        feature_sources(config, ROWS)


def test_a_parser_input_is_made_when_plg_does_not_read_it():
    """VALOR++'s CLIP input is imported with CLIP's PLG off, and needs no CLIP text tower then."""
    config = copy.deepcopy(LLP)
    config["plg"]["clip"]["enabled"] = False
    sources = feature_sources(config, ROWS)
    assert sources.producer("clip") == "import_segment_features" and sources.pseudo_label_features == ()
    assert not {row for row in sources.rows if "clip" in ROWS[row].features}


@pytest.mark.parametrize("role, feature, expected", [
    ("visual_2d", "clap_maps", "'models.valor_plus_plus.inputs.visual_2d': 'clap_maps' is not one of ['cnn2d', 'clip']"),
    ("audio", "clip", "'models.valor_plus_plus.inputs.audio': 'clip' is not one of ['vggish', 'clap', 'clap_maps']"),
    ("depth", "r2plus1d", "'models.valor_plus_plus.inputs': Additional properties are not allowed ('depth'"),
])
def test_schema_offers_each_input_the_registrys_features_of_its_role(role, feature, expected):
    config = llp_with(valor_plus_plus={"inputs": {role: feature}})
    with pytest.raises(ConfigError, match=re.escape(expected)):
        validate_config(config)


def test_schema_takes_recipe_names_and_refuses_what_cannot_be_a_folder():
    validate_config(LLP)
    config = copy.deepcopy(LLP)
    config["train"]["models"].append("VALOR++")
    with pytest.raises(ConfigError, match=re.escape("config key 'train.models.6': 'VALOR++' does not match")):
        validate_config(config)


def write_maps(folder, shapes: dict[str, tuple]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for vid, shape in shapes.items():
        np.save(folder / f"{vid}.npy", rng.standard_normal(shape).astype(np.float32))


def test_valors_clap_maps_become_a_store_with_their_shape(tmp_path):
    ids = ["-00BDwKBD5i", "00fs8Gpipss", "0ABCdefghij"]
    write_maps(tmp_path / "CLAP/features", {ids[0]: (64, 768), ids[2]: (64, 768)})  # ids[1]: no file
    records = [make_record(vid, "", "used") for vid in ids] + [make_record("zzzzzzzzzzz", "", "missing", "gone")]
    summary = import_map_shard("clap_maps", records, tmp_path / "CLAP/features", tmp_path / "store.zarr")
    array, attrs = open_store(tmp_path / "store.zarr")
    assert summary["n_written"] == 2 and attrs["video_ids"] == [ids[0], ids[2]]
    assert attrs["shape"] == [64, 768] == list(array.shape[1:]) and attrs["feature"] == "clap_maps"
    assert attrs["skipped"] == [[ids[1], f"no clap_maps file: {tmp_path / 'CLAP/features' / ids[1]}.npy"]]
    assert attrs["sampling"]["layout"].startswith("64 tokens (2 frequency x 32 time) x 768 channels")
    np.testing.assert_array_equal(array[0], np.load(tmp_path / f"CLAP/features/{ids[0]}.npy"))


def test_segment_embeddings_are_no_clap_maps(tmp_path):
    folder = tmp_path / "CLAP/window_embeddings"
    write_maps(folder, {"-00BDwKBD5i": (10, 768)})
    assert map_problems("dataset.clap_feature_maps", folder, FEATURES["clap_maps"].maps.shape) == [
        f"config key 'dataset.clap_feature_maps': {folder / '-00BDwKBD5i.npy'} has shape (10, 768); feature maps "
        "of the whole clip of shape (64, 768) are expected here ([10, D] segment embeddings are another feature)"]
    with pytest.raises(OfficialFeatureError, match=re.escape("shape (10, 768), the released clap_maps feature maps "
                                                             "are (64, 768)")):
        import_map_shard("clap_maps", [make_record("-00BDwKBD5i", "", "used")], folder, tmp_path / "store.zarr")


def test_checkpoints_record_the_features_their_model_read():
    assert checkpoint_inputs({"train_config": {"inputs": OFFICIAL["valor_plus_plus"][2]}}) == OFFICIAL[
        "valor_plus_plus"][2]
    assert checkpoint_inputs({"train_config": {"model": "han"}}) == DEFAULT_INPUTS  # written before inputs were chosen


def test_shipped_configs_still_validate():
    for path in (REPO / "config.yaml", REPO / "config/llp.yaml"):
        validate_config(yaml.safe_load(path.read_text()))


def test_an_extracted_parser_input_needs_its_extractor_settings():
    config = llp(videos="v", official_features="o")
    config["models"]["han"] = {"inputs": {"audio": "clap"}}  # CLAP window embeddings as HAN's audio
    del config["features"]["clap"]
    with pytest.raises(ValueError, match=re.escape("config key 'models.han.inputs.audio' is 'clap', extracted from the "
                                                   "videos with features.clap, which is not set")):
        feature_sources(config, ROWS)
