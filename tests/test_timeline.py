"""`vplan parse`'s timeline figure: a legend of the bars' own colours, off the bars."""
from __future__ import annotations

from matplotlib.colors import to_rgb

from vplan_core.parse import MODALITIES, plot_timeline, timeline_figure

EVENTS = [{"modality": "audio", "class": "Speech", "onset": 0.0, "offset": 4.0, "confidence": 0.9},
          {"modality": "visual", "class": "Speech", "onset": 2.0, "offset": 10.0, "confidence": 0.6},
          {"modality": "audio-visual", "class": "Speech", "onset": 2.0, "offset": 4.0, "confidence": 0.6},
          {"modality": "audio", "class": "Dog", "onset": 5.0, "offset": 7.0, "confidence": 0.5}]


def test_the_legend_shows_each_modalitys_bar_colour():
    fig = timeline_figure(EVENTS, 10.0, "clip.mp4")
    ax = fig.axes[0]
    bars = [tuple(bar.get_facecolor()[:3]) for bar in ax.patches]
    assert len(bars) == len(EVENTS)
    bar_colour = {}
    for event, colour in zip(EVENTS, bars):
        assert bar_colour.setdefault(event["modality"], colour) == colour  # one colour a modality
    legend = ax.get_legend()
    swatches = {text.get_text(): tuple(to_rgb(handle.get_facecolor()))
                for text, handle in zip(legend.get_texts(), legend.legend_handles)}
    assert swatches == bar_colour and set(swatches) == set(MODALITIES)
    assert len(set(swatches.values())) == len(MODALITIES)


def test_the_legend_sits_outside_the_bars(tmp_path):
    for events in (EVENTS, []):  # also the figure of a clip without events
        fig = timeline_figure(events, 10.0, "clip.mp4")
        fig.canvas.draw()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent()
        assert not legend.overlaps(ax.get_window_extent())
        figure = fig.bbox
        assert figure.x0 <= legend.x0 and legend.x1 <= figure.x1  # in the figure, not cut off
    plot_timeline(EVENTS, 10.0, tmp_path / "timeline.png", "clip.mp4")
    assert (tmp_path / "timeline.png").read_bytes().startswith(b"\x89PNG")
