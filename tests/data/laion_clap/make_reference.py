"""Write the LAION-CLAP reference fixtures of tests/test_clap.py with laion_clap's own code.

laion-clap 1.1.7 cannot be installed beside the project's pins (it requires numpy<2) nor build a
model offline (its CLAP class calls RobertaModel.from_pretrained('roberta-base'); importing the
package runs BertTokenizer.from_pretrained), so the tests cannot run it. This script runs its
model code once, where it is importable, and commits what it computed:

  pip install --no-deps --target /tmp/refdeps laion-clap==1.1.7 torchlibrosa==0.1.0
  PYTHONPATH=/work/wt-clap python tests/data/laion_clap/make_reference.py /tmp/refdeps

It imports laion_clap.clap_module.model and .htsat directly (not the package __init__, which
needs the hub), with two stand-ins: librosa (which torchlibrosa imports for its Hann window and
Slaney mel filters) answers with transformers' window_function and mel_filter_bank, the same
functions; RobertaModel.from_pretrained answers with an untrained RobertaModel of a tiny config.
HTSAT is laion_clap's HTSAT_Swin_Transformer with small sizes (create_htsat_model only knows
tiny/base/large); roberta's hidden size is laion_clap's hard-coded 768, replaced after
construction by the tiny one. Everything else (forward passes, fusion, projections,
normalisation, the torchlibrosa front end of the unfused model) is laion_clap's code.

Written beside this script: {fused,unfused}.pt (LAION's published form: {"epoch", "name",
"state_dict": {"module.<name>": tensor}}, without the in-model STFT/mel filter tensors, 4 MB of
deterministic constants that vplan drops anyway), config_{fused,unfused}.json (the same
architecture as a transformers ClapConfig), reference_{fused,unfused}.npz (audio and text
embeddings from laion_clap's get_audio_embedding / get_text_embedding on inputs the test makes
again: reference_windows() and TOKENS).
"""
from __future__ import annotations

import importlib
import importlib.machinery
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).parent
TEXT = dict(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=32, max_position_embeddings=80, type_vocab_size=1,
            layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2, hidden_act="gelu")
AUDIO = dict(spec_size=256, patch_size=8, patch_stride=[8, 8], patch_embeds_hidden_size=8,
             depths=[2, 2], num_attention_heads=[1, 2], window_size=8, num_classes=10)
JOINT = 12
TOKENS = {"input_ids": [[0, 5, 9, 33, 2, 1, 1], [0, 7, 7, 40, 12, 63, 2]],
          "attention_mask": [[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]]}


def reference_windows() -> np.ndarray:
    """float32 [3, 48000]: three 1-s windows (tones, a chirp, a click train), no RNG."""
    t = np.arange(48000) / 48000
    return np.stack([0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t),
                     0.4 * np.sin(2 * np.pi * (200 + 2000 * t) * t),
                     0.5 * (np.sin(2 * np.pi * 7 * t) > 0.99) * np.sin(2 * np.pi * 1500 * t)]
                    ).astype(np.float32)


def hf_config(fusion: bool) -> dict:
    return {"model_type": "clap", "projection_dim": JOINT,
            "text_config": {**TEXT, "projection_dim": JOINT, "projection_hidden_act": "relu"},
            "audio_config": {**AUDIO, "hidden_size": 16, "enable_fusion": fusion,
                             "fusion_type": "aff_2d" if fusion else None, "projection_dim": JOINT,
                             "projection_hidden_act": "relu", "num_mel_bins": 64}}


def _import_laion(refdeps: str):
    from transformers.audio_utils import mel_filter_bank, window_function

    def get_window(window, n, fftbins=True):
        assert window == "hann" and fftbins
        return window_function(n, "hann", periodic=True)

    def pad_center(data, size, axis=-1, **_):
        lpad = (size - data.shape[axis]) // 2
        return np.pad(data, (lpad, size - data.shape[axis] - lpad))

    def mel(sr, n_fft, n_mels=128, fmin=0.0, fmax=None, htk=False, norm="slaney", dtype=np.float32):
        return mel_filter_bank(num_frequency_bins=1 + n_fft // 2, num_mel_filters=n_mels,
                               min_frequency=fmin, max_frequency=fmax or sr / 2, sampling_rate=sr,
                               norm=norm, mel_scale="htk" if htk else "slaney").T.astype(dtype)

    librosa, filters, util = (types.ModuleType(n) for n in ("librosa", "librosa.filters", "librosa.util"))
    filters.get_window, filters.mel, util.pad_center = get_window, mel, pad_center
    librosa.filters, librosa.util = filters, util
    for module in (librosa, filters, util):
        module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None)
        sys.modules[module.__name__] = module
    sys.path.insert(0, refdeps)
    for name in ("laion_clap", "laion_clap.clap_module"):  # skip the package __init__ files
        package = types.ModuleType(name)
        package.__path__ = [str(Path(refdeps, *name.split(".")))]
        package.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        sys.modules[name] = package
    return (importlib.import_module("laion_clap.clap_module.model"),
            importlib.import_module("laion_clap.clap_module.htsat"))


def build(model_mod, htsat, fusion: bool) -> torch.nn.Module:
    from transformers import RobertaConfig, RobertaModel

    class TinyRoberta:
        @staticmethod
        def from_pretrained(name):
            assert name == "roberta-base"
            return RobertaModel(RobertaConfig(**TEXT))

    def tiny_htsat(audio_cfg, enable_fusion=False, fusion_type="None"):
        return htsat.HTSAT_Swin_Transformer(
            spec_size=AUDIO["spec_size"], patch_size=AUDIO["patch_size"],
            patch_stride=tuple(AUDIO["patch_stride"]), num_classes=AUDIO["num_classes"],
            embed_dim=AUDIO["patch_embeds_hidden_size"], depths=AUDIO["depths"],
            num_heads=AUDIO["num_attention_heads"], window_size=AUDIO["window_size"],
            config=audio_cfg, enable_fusion=enable_fusion, fusion_type=fusion_type)

    model_mod.RobertaModel, model_mod.create_htsat_model = TinyRoberta, tiny_htsat
    audio_cfg = dict(model_type="HTSAT", model_name="tiny", sample_rate=48000, audio_length=1024,
                     window_size=1024, hop_size=480, fmin=50, fmax=14000,
                     class_num=AUDIO["num_classes"], mel_bins=64, clip_samples=480000)
    text_cfg = dict(context_length=77, vocab_size=TEXT["vocab_size"], width=TEXT["hidden_size"],
                    heads=2, layers=2, model_type="roberta")
    model = model_mod.CLAP(embed_dim=16, audio_cfg=audio_cfg, text_cfg=text_cfg,
                           enable_fusion=fusion, fusion_type="aff_2d" if fusion else "None",
                           joint_embed_shape=JOINT)
    model.text_projection[0] = torch.nn.Linear(TEXT["hidden_size"], JOINT)  # laion: 768 fixed
    with torch.no_grad():  # BatchNorm statistics and logit scales away from their init values
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_(0, 0.3)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
        model.logit_scale_a.fill_(3.1)
        model.logit_scale_t.fill_(2.9)
    return model.eval()


def main(refdeps: str) -> None:
    sys.path.insert(0, str(HERE.parents[2]))
    from vplan_core.features.clap_audio import model_input

    model_mod, htsat = _import_laion(refdeps)
    windows = torch.from_numpy(reference_windows())
    for fusion in (True, False):
        torch.manual_seed(1 if fusion else 2)
        model = build(model_mod, htsat, fusion)
        tag = "fused" if fusion else "unfused"
        with torch.no_grad():
            prepared = model_input(windows, fusion)  # quantised, repeat-padded (mel for fusion)
            from vplan_core.features.clap_audio import quantise, repeat_pad
            waveform = repeat_pad(quantise(windows))
            data = [{"waveform": waveform[i], "longer": torch.tensor([False]),
                     **({"mel_fusion": prepared["input_features"][i]} if fusion else {})}
                    for i in range(len(windows))]
            audio = model.get_audio_embedding(data)
            text = model.get_text_embedding({k: torch.tensor(v) for k, v in TOKENS.items()})
            arrays = {"audio": audio.numpy(), "text": text.numpy(),
                      "logit_scale_a": model.logit_scale_a.exp().numpy()}
            if not fusion:  # laion_clap's own front end (torchlibrosa), for the mel check
                branch = model.audio_branch
                arrays["mel"] = branch.logmel_extractor(branch.spectrogram_extractor(waveform))[:, 0, ::10].numpy()
        state = {f"module.{k}": v for k, v in model.state_dict().items()
                 if not k.startswith(("audio_branch.spectrogram_extractor.",
                                      "audio_branch.logmel_extractor."))}
        torch.save({"epoch": 1, "name": f"tiny-{tag}", "state_dict": state}, HERE / f"{tag}.pt")
        np.savez(HERE / f"reference_{tag}.npz", **arrays)
        (HERE / f"config_{tag}.json").write_text(json.dumps(hf_config(fusion), indent=1) + "\n")
        print(tag, {k: v.shape for k, v in arrays.items()}, (HERE / f"{tag}.pt").stat().st_size)


if __name__ == "__main__":
    main(sys.argv[1])
