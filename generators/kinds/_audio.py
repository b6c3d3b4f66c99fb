"""Shared machinery of the ``audio-*`` kinds: synthesised sounds stored as 8-bit log-mels.

A sample is a mono waveform at 16 kHz whose log-mel (:mod:`generators.logmel`, the settings of
the evaluation's front end) is the sample image: ``size`` mel bins (rows, low frequencies at
row 0) by ``size`` frames of 10 ms (columns), so 128 x 128 is 1.28 s of sound through the
front end's own 128 mel filters. Sizes whose mel filters would fall between FFT bins (more
than about 190 bins at n_fft 512) are refused.

Events: a clip holds ``events_min..events_max`` sound events (the count drawn per clip). Event
``i`` of ``n`` lives in slot ``i`` (the clip cut into ``n`` equal slots): its onset is drawn in
the first 30 % of the slot and it lasts, release included, 50-80 % of the rest of the slot, so
at least 14 % of every slot is silent and onsets and counts are visible in the image. Every
event has its own level (drawn 0..``level_db`` dB down), and the clip is peak-normalised to 1
(as ``pretrain.frontend.load_audio`` does for real audio).

Quantisation (the stored image): with ``top`` the clip's largest log-mel value, pixel =
``round(255 * (v - top + R) / R)`` clipped to 0..255, ``R`` = :data:`DYNAMIC_RANGE` = 20 nats
(86.9 dB) below the peak. ``top`` is stored in the sample's json (``logmel_top``), so
``v = top - R + R * pixel / 255`` recovers every value within the range to +-R/510 =
+-0.039 nats (0.17 dB); values more than R below the peak read as the floor.

Waveforms come from :func:`clip_samples`; a kind's ``synthesize(params, rng, frames)`` returns
``(wave, info)`` and its render is :func:`render_audio`, so tests, ``synthgen preview --audio``
and the benchmark get the very waveform behind each image.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from numba import njit
from scipy import fft as sfft

from generators import logmel
from generators.params import param
from generators.registry import Kind, RenderError

SAMPLE_RATE = logmel.SAMPLE_RATE
HOP = logmel.HOP_LENGTH
NYQUIST = SAMPLE_RATE / 2
#: Log-mel values stored below the clip's peak, in nats (natural-log units): 20 = 86.9 dB.
DYNAMIC_RANGE = 20.0
#: Partials fade out over the last TAPER_HZ below Nyquist (no aliasing).
TAPER_HZ = 400.0
#: Largest image side: more mel bins than this leave filters empty at n_fft 512.
MAX_SIZE = 191
#: ``Kind(..., **SIZES)`` of every audio kind: the size limit the CLI checks up front.
SIZES = {"max_size": MAX_SIZE, "size_reason": f"size mel bins x size frames; more than "
                                               f"{MAX_SIZE} mel bins leave filters empty at "
                                               f"n_fft {logmel.N_FFT}"}


def clip_samples(frames: int) -> int:
    """Samples of a clip whose centred STFT has ``frames`` frames (one more, cut off)."""
    return frames * HOP


def check_size(size: int) -> None:
    if not 8 <= size <= MAX_SIZE:
        raise RenderError(f"audio kinds render size mel bins x size frames; size={size} must be "
                          f"8..{MAX_SIZE} (more mel bins leave filters empty at n_fft "
                          f"{logmel.N_FFT})")


def to_image(spec: np.ndarray) -> tuple[np.ndarray, float]:
    """Log-mel -> ``(uint8 image, top)`` (mapping in the module docstring)."""
    top = float(spec.max())
    scaled = (spec - (top - DYNAMIC_RANGE)) * (255.0 / DYNAMIC_RANGE)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8), top


def from_image(image: np.ndarray, top: float) -> np.ndarray:
    """Stored image + ``logmel_top`` -> log-mel values (the inverse of :func:`to_image`)."""
    return (top - DYNAMIC_RANGE + image.astype(np.float32) * (DYNAMIC_RANGE / 255.0)).astype(np.float32)


def spectrogram(wave: np.ndarray, mels: int, frames: int) -> np.ndarray:
    """``(mels, frames)`` log-mel of a clip of :func:`clip_samples` samples."""
    return logmel.log_mel(wave, n_mels=mels)[:, :frames]


def render_clip(synthesize: Callable, params: Any, rng: np.random.Generator, mels: int,
                frames: int) -> tuple[np.ndarray, dict]:
    """``(uint8 mels x frames log-mel, info)`` of a clip of ``frames`` frames."""
    wave, info = synthesize(params, rng, frames)
    image, top = to_image(spectrogram(wave, mels, frames))
    info["logmel_top"] = round(top, 6)
    return image, info


def render_audio(synthesize: Callable, params: Any, rng: np.random.Generator, size: int):
    """The render function of an audio kind: ``(uint8 size x size log-mel, info)``."""
    check_size(size)
    return render_clip(synthesize, params, rng, size, size)


def audio_kind(name: str, params_type: type, synthesize: Callable, summary: str) -> Kind:
    """The :class:`Kind` of an audio kind whose clips come from ``synthesize(params, rng,
    frames) -> (wave, info)``: it renders through :func:`render_audio` and offers the same
    function as its ``waveform``."""
    return Kind(name=name, params_type=params_type, render=functools.partial(render_audio, synthesize),
                waveform=synthesize, **SIZES, summary=summary)


# --- parameters shared by the kinds -------------------------------------------------------------

@dataclass(frozen=True)
class EventFields:
    """How many events a clip holds and their levels (AudioPG: several events per clip)."""

    events_min: int = param(1, "fewest sound events per clip", low=1, high=16)
    events_max: int = param(3, "most sound events per clip", low=1, high=16)
    level_db: float = param(12.0, "each event's level is drawn 0..level_db dB down",
                            low=0.0, high=60.0)


@dataclass(frozen=True)
class EnvelopeFields:
    """ADSR envelopes: attack, decay, release in seconds, sustain as a fraction of the peak."""

    attack_max: float = param(0.08, "longest attack in s (drawn log-uniform from 2 ms)",
                              low=0.002, high=1.0)
    decay_max: float = param(0.3, "longest decay in s (drawn log-uniform from 10 ms)",
                             low=0.01, high=2.0)
    sustain_min: float = param(0.2, "lowest sustain level (fraction of the peak; drawn up to 1)",
                               low=0.0, high=1.0)
    release_max: float = param(0.3, "longest release in s (drawn log-uniform from 10 ms)",
                               low=0.01, high=2.0)


def check_events(params: Any) -> None:
    if params.events_min > params.events_max:
        raise ValueError(f"parameter events_min={params.events_min} must be <= "
                         f"events_max={params.events_max}")


def check_range(params: Any, low: str, high: str) -> None:
    if getattr(params, low) > getattr(params, high):
        raise ValueError(f"parameter {low}={getattr(params, low)} must be <= "
                         f"{high}={getattr(params, high)}")


# --- events and envelopes -------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    """An event's sample span in the clip and its gain."""

    start: int
    stop: int
    gain: float

    @property
    def length(self) -> int:
        return self.stop - self.start

    def describe(self) -> dict:
        return {"onset": round(self.start / SAMPLE_RATE, 5),
                "duration": round(self.length / SAMPLE_RATE, 5),
                "gain_db": round(20 * math.log10(self.gain), 3)}


def draw_events(params: Any, rng: np.random.Generator, n_samples: int) -> list[Event]:
    """Event spans in their slots (module docstring) with gains 0..-level_db dB."""
    count = int(rng.integers(params.events_min, params.events_max + 1))
    slot = n_samples / count
    events = []
    for i in range(count):
        begin, end = i * slot, (i + 1) * slot
        start = int(begin + rng.uniform(0.0, 0.3) * slot)
        stop = int(start + rng.uniform(0.5, 0.8) * (end - start))
        gain = 10 ** (-rng.uniform(0.0, params.level_db) / 20)
        events.append(Event(start, max(stop, start + 2), gain))
    return events


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def adsr(params: Any, rng: np.random.Generator, length: int) -> tuple[np.ndarray, dict]:
    """An ADSR envelope of ``length`` samples (attack/decay/release shortened to fit)."""
    attack = log_uniform(rng, 0.002, params.attack_max)
    decay = log_uniform(rng, 0.01, max(params.decay_max, 0.01))
    sustain = rng.uniform(params.sustain_min, 1.0)
    release = log_uniform(rng, 0.01, max(params.release_max, 0.01))
    total = length / SAMPLE_RATE
    scale = min(1.0, 0.9 * total / (attack + decay + release))
    a, d, r = attack * scale, decay * scale, release * scale
    times = np.array([0.0, a, a + d, total - r, total])
    levels = np.array([0.0, 1.0, sustain, sustain, 0.0])
    t = np.arange(length) / SAMPLE_RATE
    return np.interp(t, times, levels), {"attack": round(a, 5), "decay": round(d, 5),
                                         "sustain": round(float(sustain), 4), "release": round(r, 5)}


def percussive(rng: np.random.Generator, length: int, decay_min: float, decay_max: float
               ) -> tuple[np.ndarray, float]:
    """A percussive envelope: 1 ms attack, exponential decay (time constant log-uniform), and a
    5 ms fade at the event's end; returns ``(envelope, tau)``."""
    tau = log_uniform(rng, decay_min, decay_max)
    t = np.arange(length) / SAMPLE_RATE
    env = np.exp(-t / tau) * np.minimum(1.0, t / 0.001)
    fade = min(length, int(0.005 * SAMPLE_RATE))
    env[length - fade:] *= np.linspace(1.0, 0.0, fade)
    return env, tau


# --- oscillators ---------------------------------------------------------------------------------

def phase_of(freq: np.ndarray, start_phase: float = 0.0) -> np.ndarray:
    """Running phase in radians of an instantaneous frequency track in Hz."""
    return start_phase + np.cumsum(freq) * (2 * math.pi / SAMPLE_RATE)


#: Samples of one period of a wavetable (the 400th partial still gets 10 samples a cycle).
TABLE_SIZE = 4096


def wavetable(amps: np.ndarray, highest_f0: float) -> np.ndarray:
    """One period of ``sum_k amps[k-1] sin(k x)``, ``TABLE_SIZE + 1`` samples (the last repeats
    the first), keeping the partials below Nyquist at ``highest_f0`` and fading them out over
    the ``TAPER_HZ`` below it (band-limited at every pitch the event reaches)."""
    k = np.arange(1, len(amps) + 1)
    weight = np.clip((NYQUIST - k * highest_f0) / TAPER_HZ, 0.0, 1.0)
    spec = np.zeros(TABLE_SIZE // 2 + 1, np.complex128)
    count = min(len(amps), TABLE_SIZE // 2 - 1)
    # irfft of -i * a * N / 2 at bin k is a * sin(k x)
    spec[1:count + 1] = -0.5j * TABLE_SIZE * amps[:count] * weight[:count]
    table = np.fft.irfft(spec, TABLE_SIZE)
    return np.append(table, table[0])


@njit(cache=True)
def table_lookup(table, phase):
    """``table`` read at ``phase`` (radians, one period = 2 pi) with linear interpolation."""
    n = table.shape[0] - 1
    scale = n / (2 * math.pi)
    out = np.empty(phase.shape[0])
    for t in range(phase.shape[0]):
        x = phase[t] * scale
        x -= math.floor(x / n) * n
        i = int(x)
        if i >= n:
            i = n - 1
        frac = x - i
        out[t] = table[i] + frac * (table[i + 1] - table[i])
    return out


def harmonic_tone(f0: np.ndarray, amps: np.ndarray, phase0: float = 0.0) -> np.ndarray:
    """A band-limited tone with partial amplitudes ``amps`` on the fundamental track ``f0`` (Hz
    per sample): a wavetable (:func:`wavetable`, partials below Nyquist at the track's highest
    pitch) read at the running phase."""
    f0 = np.asarray(f0, dtype=np.float64)
    table = wavetable(np.asarray(amps, dtype=np.float64), float(f0.max()))
    return table_lookup(table, phase_of(f0, phase0))


def power_law_amplitudes(count: int, gamma: float) -> np.ndarray:
    """``k^-gamma`` for k = 1..count (AudioPG's additive harmonic spectrum)."""
    return np.arange(1, count + 1, dtype=np.float64) ** -gamma


def waveform_amplitudes(shape: str, count: int) -> np.ndarray:
    """Fourier series of the classic waveforms (band-limited by :func:`wavetable`):
    saw 1/k (all k), square 1/k (odd k), triangle +-1/k^2 (odd k, alternating sign)."""
    k = np.arange(1, count + 1, dtype=np.float64)
    odd = (k % 2 == 1)
    if shape == "saw":
        return 1.0 / k
    if shape == "square":
        return np.where(odd, 1.0 / k, 0.0)
    if shape == "triangle":
        return np.where(odd, (-1.0) ** ((k - 1) // 2) / k ** 2, 0.0)
    raise ValueError(f"waveform {shape!r} must be saw, square or triangle")


def coloured_noise(rng: np.random.Generator, n: int, beta: float) -> np.ndarray:
    """Gaussian noise of ``n`` samples with power spectrum ``1/f^beta`` (0 white, 1 pink, 2
    brown), unit RMS: white noise shaped in the frequency domain (bins below 20 Hz get the
    20 Hz gain, so no DC drift)."""
    size = sfft.next_fast_len(max(n, 2), real=True)  # an FFT-friendly length, cut to n
    spec = rng.standard_normal(size // 2 + 1) + 1j * rng.standard_normal(size // 2 + 1)
    freqs = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE)
    spec *= np.maximum(freqs, 20.0) ** (-beta / 2)
    spec[0] = 0.0
    noise = sfft.irfft(spec, size)[:n]
    rms = np.sqrt(np.mean(noise ** 2))
    return noise / rms if rms > 0 else noise


def band_pass(noise: np.ndarray, low: float, high: float) -> np.ndarray:
    """Keep ``low..high`` Hz with raised-cosine skirts a third of an octave wide (FFT mask)."""
    size = sfft.next_fast_len(noise.size, real=True)  # zero-padded to an FFT-friendly length
    spec = sfft.rfft(noise, size)
    freqs = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE)
    octave = np.log2(np.maximum(freqs, 1.0))
    lo, hi, skirt = math.log2(low), math.log2(high), 1.0 / 3
    gain = np.clip(np.minimum((octave - lo) / skirt + 1, (hi - octave) / skirt + 1), 0.0, 1.0)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    return sfft.irfft(spec * gain, size)[:noise.size]


def vibrato(rng: np.random.Generator, length: int, rate_max: float,
            depth_max: float) -> tuple[np.ndarray, dict]:
    """Multiplicative frequency factor ``2^(cents/1200 * sin(2 pi rate t + phi))``."""
    rate = rng.uniform(3.0, max(rate_max, 3.0))
    cents = rng.uniform(0.0, depth_max)
    t = np.arange(length) / SAMPLE_RATE
    factor = 2 ** (cents / 1200 * np.sin(2 * math.pi * rate * t + rng.uniform(0, 2 * math.pi)))
    return factor, {"vibrato_hz": round(float(rate), 4), "vibrato_cents": round(float(cents), 3)}


def finish(wave: np.ndarray) -> np.ndarray:
    """Peak-normalise to 1 (silence stays silence)."""
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    return (wave / peak).astype(np.float32) if peak > 0 else wave.astype(np.float32)


def place(events: list[Event], n_samples: int, make: Callable[[Event], tuple[np.ndarray, dict]]
          ) -> tuple[np.ndarray, list[dict]]:
    """Sum ``make(event)`` (a waveform of the event's length and its info) into a clip, each
    scaled by its gain to peak ``gain``; returns ``(wave, per-event info)``."""
    wave = np.zeros(n_samples)
    infos = []
    for event in events:
        part, info = make(event)
        peak = float(np.max(np.abs(part)))
        if peak > 0:
            wave[event.start:event.stop] += part * (event.gain / peak)
        infos.append({**event.describe(), **info})
    return wave, infos


def synthesize_events(params: Any, rng: np.random.Generator, frames: int,
                      make: Callable[[Any, np.random.Generator, Event], tuple[np.ndarray, dict]]
                      ) -> tuple[np.ndarray, dict]:
    """A clip of ``frames`` frames of events made by ``make(params, rng, event)``, normalised."""
    n = clip_samples(frames)
    events = draw_events(params, rng, n)
    wave, infos = place(events, n, lambda event: make(params, rng, event))
    return finish(wave), {"events": infos}


__all__ = ["audio_kind", "SAMPLE_RATE", "HOP", "NYQUIST", "DYNAMIC_RANGE", "MAX_SIZE", "SIZES", "EventFields",
           "EnvelopeFields", "Event", "check_events", "check_range", "check_size", "clip_samples",
           "draw_events", "adsr", "percussive", "phase_of", "harmonic_tone", "wavetable",
           "power_law_amplitudes", "waveform_amplitudes", "coloured_noise", "band_pass",
           "vibrato", "finish", "place", "synthesize_events", "render_audio", "render_clip", "to_image",
           "from_image", "spectrogram", "log_uniform"]
