"""Properties of the audio kinds that follow from how they are synthesised: pitch lands in its
mel bin, partials sit at multiples of f0 with k^-gamma amplitudes, FM lines at fc +- k fm,
noise slopes of 1/f^beta, one onset per event."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from generators import logmel
from generators.kinds import audio_fm, audio_harmonic, audio_mix, audio_noise
from generators.kinds._audio import SAMPLE_RATE, from_image
from generators.params import make_params
from generators.registry import get_kind
from generators.sample import render_sample
from generators.seeding import sample_rng

STEADY = ["vibrato_cents=0", "glide_octaves=0", "events_min=1", "events_max=1"]


def event_wave(module, params, seed):
    """The waveform of a one-event clip of 128 frames, cut to its event, and its info."""
    wave, info = module.synthesize(params, sample_rng(seed, 0), 128)
    event = info["events"][0]
    start = int(round(event["onset"] * SAMPLE_RATE))
    return wave[start:start + int(round(event["duration"] * SAMPLE_RATE))], event


def line_spectrum(x):
    """Magnitude spectrum (Hann, zero-padded to 1 Hz bins) and its frequencies."""
    n = SAMPLE_RATE
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    return spec, np.fft.rfftfreq(n, 1 / SAMPLE_RATE)


def peak_near(spec, freq, width=3):
    k = int(round(freq))
    return spec[max(0, k - width):k + width + 1].max()


@pytest.mark.parametrize("seed", range(6))
def test_f0_lands_in_its_mel_bin(seed):
    kind = get_kind("audio-harmonic")
    params = make_params(kind.params_type, STEADY + ["gamma_min=2", "gamma_max=2"])
    image, meta = render_sample(kind, params, seed, 0, 128, "L")
    event = meta["events"][0]
    first = int(event["onset"] * 100) + 3
    frames = slice(first, first + 10)
    profile = from_image(image, meta["logmel_top"])[:, frames].mean(axis=1)
    expected = int(np.argmin(np.abs(logmel.mel_centres(128) - event["f0"])))
    assert abs(int(np.argmax(profile)) - expected) <= 1, (event["f0"], expected)


@pytest.mark.parametrize("seed,gamma", [(0, 0.5), (1, 1.0), (2, 1.5), (3, 2.0)])
def test_partials_at_multiples_of_f0_with_power_law_amplitudes(seed, gamma):
    params = make_params(audio_harmonic.AudioHarmonicParams,
                         STEADY + ["f0_min=150", "f0_max=400", f"gamma_min={gamma}",
                                   f"gamma_max={gamma}", "partials=10"])
    wave, event = event_wave(audio_harmonic, params, seed)
    spec, _ = line_spectrum(wave)
    f0 = event["f0"]
    k = np.arange(1, 11)
    lines = np.array([peak_near(spec, f0 * i) for i in k])
    between = np.array([peak_near(spec, f0 * (i + 0.5), width=1) for i in k[:-1]])
    assert np.all(between < lines[:-1] * 10 ** (-30 / 20)), "energy between the partials"
    slope = np.polyfit(np.log(k), np.log(lines), 1)[0]
    assert slope == pytest.approx(-gamma, abs=0.1)
    # no partial 11 (partials=10) and nothing below f0
    assert peak_near(spec, 11 * f0) < lines[-1] * 0.03
    assert spec[20:int(f0 * 0.8)].max() < lines[0] * 10 ** (-50 / 20)


@pytest.mark.parametrize("seed", range(4))
def test_fm_sidebands_at_fc_plus_minus_k_fm(seed):
    params = make_params(audio_fm.AudioFMParams,
                         ["events_min=1", "events_max=1", "fc_min=500", "fc_max=1500",
                          "ratio_min=0.55", "ratio_max=1.45", "index_min=2", "index_max=3",
                          "index_decay_min=50", "index_decay_max=50", "sustain_min=0.8"])
    wave, event = event_wave(audio_fm, params, seed)
    spec, freqs = line_spectrum(wave)
    fc, fm = event["fc"], event["fm"]
    peaks, _ = signal.find_peaks(spec, height=spec.max() * 0.05, distance=10)
    lines = np.abs(fc + fm * np.arange(-12, 13))
    assert len(peaks) >= 4, "an FM tone of index >= 2 has several strong sidebands"
    off = np.min(np.abs(freqs[peaks][:, None] - lines[None, :]), axis=1)
    assert np.all(off <= 3), (freqs[peaks], fc, fm)
    # J1(I) > 0.3 for I in 2..3 (decaying to at least 0.97 I here): the first upper sideband is strong
    assert peak_near(spec, fc + fm) > spec.max() * 0.05


@pytest.mark.parametrize("beta", [0.0, 0.7, 1.0, 1.6, 2.0])
def test_noise_slope_is_beta(beta):
    params = make_params(audio_noise.AudioNoiseParams,
                         ["events_min=1", "events_max=1", "bandpass_prob=0", f"beta_min={beta}",
                          f"beta_max={beta}", "sustain_min=1", "attack_max=0.002",
                          "decay_max=0.01", "release_max=0.01"])
    slopes = []
    for seed in range(3):
        wave, _ = event_wave(audio_noise, params, seed)
        freqs, psd = signal.welch(wave, SAMPLE_RATE, nperseg=1024)
        band = (freqs >= 100) & (freqs <= 6000)
        slopes.append(np.polyfit(np.log10(freqs[band]), np.log10(psd[band]), 1)[0])
    assert np.mean(slopes) == pytest.approx(-beta, abs=0.1)


@pytest.mark.parametrize("name", ["audio-harmonic", "audio-modal", "audio-fm", "audio-waveform",
                                  "audio-chirp", "audio-noise"])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_one_onset_per_event(name, count):
    kind = get_kind(name)
    items = [f"events_min={count}", f"events_max={count}", "level_db=6"]
    params = make_params(kind.params_type, items)
    for seed in range(3):
        image, meta = render_sample(kind, params, seed, 0, 128, "L")
        events = meta["events"]
        assert len(events) == count
        spec = from_image(image, meta["logmel_top"])
        active = spec.max(axis=0) > np.log(logmel.LOG_OFFSET) + 2
        starts = np.flatnonzero(active & ~np.concatenate([[False], active[:-1]]))
        assert len(starts) == count, (name, seed, starts, [e["onset"] for e in events])
        onsets = np.array([e["onset"] for e in events]) * 100
        assert np.all(np.abs(starts - onsets) <= 2), (starts, onsets)


def test_quantisation_round_trip():
    kind = get_kind("audio-mix")
    params = kind.params_type()
    wave, _ = audio_mix.synthesize(params, sample_rng(5, 0), 128)
    spec = logmel.log_mel(wave)[:, :128]
    image, meta = render_sample(kind, params, 5, 0, 128, "L")
    back = from_image(image, meta["logmel_top"])
    inside = spec >= meta["logmel_top"] - 20
    assert meta["logmel_top"] == pytest.approx(float(spec.max()), abs=1e-5)
    assert np.abs(back - spec)[inside].max() <= 20 / 510 + 1e-4
    assert np.all(image[~inside] == 0)


def test_sizes_map_to_mel_bins_and_frames_and_big_sizes_are_refused():
    from generators.registry import RenderError

    kind = get_kind("audio-chirp")
    image, meta = render_sample(kind, kind.params_type(), 0, 0, 40, "L")
    assert image.shape == (40, 40)
    assert all(e["onset"] + e["duration"] <= 0.4 for e in meta["events"])  # 40 frames = 0.4 s
    with pytest.raises(RenderError, match="size=256 must be 8..191"):
        render_sample(kind, kind.params_type(), 0, 0, 256, "L")


def test_bad_parameters_name_the_value():
    with pytest.raises(ValueError, match="gamma_min=3.0 must be <= gamma_max=2.0"):
        make_params(audio_harmonic.AudioHarmonicParams, ["gamma_min=3"])
    with pytest.raises(ValueError, match=r"ratio_max=11.0 is out of range 0.05 .. 10.0"):
        make_params(audio_fm.AudioFMParams, ["ratio_max=11"])
    with pytest.raises(ValueError, match="shapes='saw,sine'"):
        make_params(get_kind("audio-waveform").params_type, ["shapes=saw,sine"])
    with pytest.raises(ValueError, match="families='fm,drums'"):
        make_params(get_kind("audio-mix").params_type, ["families=fm,drums"])
