"""Task loaders reading each dataset's published on-disk layout (no conversion step).

=================  ===============================================================  ==========
task               layout under ``root``                                            protocol
=================  ===============================================================  ==========
``esc50``          ``audio/*.wav`` + ``meta/esc50.csv`` (filename,fold,target,...)  5-fold CV
``urbansound8k``   ``audio/foldN/*.wav`` + ``metadata/UrbanSound8K.csv``            10-fold CV
``speechcommands`` ``WORD/*.wav`` + ``validation_list.txt`` + ``testing_list.txt``  train/valid/test
``gtzan``          ``[genres/]GENRE/GENRE.000NN.wav``                               10-fold CV
``nsynth``         ``nsynth-{train,valid,test}/examples.json`` + ``audio/*.wav``    train/valid/test
``cremad``         ``[AudioWAV/]ACTOR_SENTENCE_EMOTION_LEVEL.wav``                  5-fold CV by actor
``voxceleb1``      ``iden_split.txt`` + ``wav/idXXXXX/VIDEO/NNNNN.wav``             train/valid/test
``fsdd``           ``recordings/{digit}_{speaker}_{index}.wav`` [+ ``meta_5fold.csv``] 5-fold CV
``folder``         ``LABEL/*.wav`` (any of .wav .flac .ogg)                         k-fold CV
``csv``            a CSV with ``filename,label[,fold]`` (paths relative to the CSV)   CV or splits
=================  ===============================================================  ==========

Every loader returns a ``Task`` and raises ``UserError`` (one line naming the file) for a
missing metadata file, a missing CSV column or a listed audio file that does not exist.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Callable

from finetune.task import Clip, Task, UserError, assign_folds, cv_task, fixed_split_task

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


def read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a CSV with a header; ``UserError`` if the file or a required column is missing."""
    if not path.is_file():
        raise UserError(f"metadata file {path} does not exist")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)} "
                            f"(found: {', '.join(reader.fieldnames or []) or 'no header'})")
        return list(reader)


def _dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise UserError(f"{what} folder {path} does not exist")
    return path


def missing_files(task: Task) -> list[int]:
    """Indices of clips whose file does not exist."""
    return [i for i, c in enumerate(task.clips) if not c.path.is_file()]


def load_esc50(root: Path) -> Task:
    rows = read_csv(root / "meta" / "esc50.csv", ("filename", "fold", "category"))
    audio = _dir(root / "audio", "ESC-50 audio")
    return cv_task("esc50", [Clip(audio / r["filename"], r["category"], r["fold"]) for r in rows])


def load_urbansound8k(root: Path) -> Task:
    rows = read_csv(root / "metadata" / "UrbanSound8K.csv", ("slice_file_name", "fold", "class"))
    audio = _dir(root / "audio", "UrbanSound8K audio")
    return cv_task("urbansound8k", [Clip(audio / f"fold{r['fold']}" / r["slice_file_name"], r["class"], r["fold"])
                                    for r in rows])


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        raise UserError(f"split list {path} does not exist")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def load_speechcommands(root: Path) -> Task:
    """All words of Speech Commands V2 (35 classes); ``_background_noise_`` is not a class."""
    valid = _read_list(root / "validation_list.txt")
    test = _read_list(root / "testing_list.txt")
    clips = []
    for wav in sorted(_dir(root, "Speech Commands").glob("*/*.wav")):
        word = wav.parent.name
        if word.startswith("_"):
            continue
        rel = f"{word}/{wav.name}"
        clips.append(Clip(wav, word, "test" if rel in test else "valid" if rel in valid else "train"))
    return fixed_split_task("speechcommands", clips)


def load_gtzan(root: Path) -> Task:
    """Genre folders; fold = (track number mod 10) + 1, i.e. 10 stratified folds of 10 tracks
    per genre (a deterministic stand-in for the usual random 10-fold split)."""
    base = root / "genres" if (root / "genres").is_dir() else root / "genres_original" \
        if (root / "genres_original").is_dir() else root
    clips = []
    for path in sorted(_dir(base, "GTZAN").glob("*/*")):
        if path.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        m = re.search(r"\.(\d+)$", path.stem)
        if not m:
            raise UserError(f"GTZAN file name {path.name} must look like GENRE.000NN.wav")
        clips.append(Clip(path, path.parent.name, str(int(m.group(1)) % 10 + 1)))
    return cv_task("gtzan", clips)


def load_nsynth(root: Path) -> Task:
    """Instrument family (11 classes) from each split's ``examples.json``."""
    clips = []
    for split, folder in (("train", "nsynth-train"), ("valid", "nsynth-valid"), ("test", "nsynth-test")):
        meta = root / folder / "examples.json"
        if not meta.is_file():
            if split == "valid":
                continue
            raise UserError(f"metadata file {meta} does not exist")
        try:
            examples = json.loads(meta.read_text())
        except json.JSONDecodeError as exc:
            raise UserError(f"{meta}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        for note, ex in sorted(examples.items()):
            if "instrument_family_str" not in ex:
                raise UserError(f"{meta}: entry {note} has no instrument_family_str")
            clips.append(Clip(root / folder / "audio" / f"{note}.wav", ex["instrument_family_str"], split))
    return fixed_split_task("nsynth", clips)


CREMAD_EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral",
                   "SAD": "sad"}


def load_cremad(root: Path) -> Task:
    """Emotion from ``ACTOR_SENTENCE_EMOTION_LEVEL.wav`` (e.g. ``1001_DFA_ANG_XX.wav``);
    speaker-independent 5 folds: fold = (actor id mod 5) + 1."""
    base = root / "AudioWAV" if (root / "AudioWAV").is_dir() else root
    clips = []
    for path in sorted(_dir(base, "CREMA-D").glob("*.wav")):
        parts = path.stem.split("_")
        if len(parts) != 4 or not parts[0].isdigit() or parts[2] not in CREMAD_EMOTIONS:
            raise UserError(f"CREMA-D file name {path.name} must look like 1001_DFA_ANG_XX.wav")
        clips.append(Clip(path, CREMAD_EMOTIONS[parts[2]], str(int(parts[0]) % 5 + 1)))
    return cv_task("cremad", clips)


def load_voxceleb1(root: Path) -> Task:
    """Speaker identification (1,251 speakers) from ``iden_split.txt`` (1 train, 2 valid, 3 test)."""
    split_file = root / "iden_split.txt"
    if not split_file.is_file():
        raise UserError(f"split list {split_file} does not exist")
    wav = root / "wav" if (root / "wav").is_dir() else root
    names = {"1": "train", "2": "valid", "3": "test"}
    clips = []
    for n, line in enumerate(split_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in names:
            raise UserError(f"{split_file} line {n}: expected '1|2|3 idXXXXX/VIDEO/NNNNN.wav', got {line!r}")
        clips.append(Clip(wav / parts[1], parts[1].split("/")[0], names[parts[0]]))
    return fixed_split_task("voxceleb1", clips)


FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


def load_fsdd(root: Path, split: str = "5fold") -> Task:
    """Spoken digits (10 classes). ``split="5fold"``: ``meta_5fold.csv`` folds (index // 10 + 1;
    derived from the file names when the CSV is absent); ``split="upstream"``: ``meta.csv``
    train (takes 5-49) / test (takes 0-4). Neither split is speaker-independent."""
    rec = _dir(root / "recordings", "FSDD recordings")
    if split == "5fold":
        meta = root / "meta_5fold.csv"
        if meta.exists():
            rows = read_csv(meta, ("filename", "label", "fold"))
            return cv_task("fsdd", [Clip(rec / r["filename"], r["label"], r["fold"]) for r in rows])
        clips = []
        for path in sorted(rec.glob("*.wav")):
            m = FSDD_NAME.match(path.name)
            if not m:
                raise UserError(f"FSDD file name {path.name} must look like DIGIT_SPEAKER_INDEX.wav")
            clips.append(Clip(path, m.group(1), str(int(m.group(3)) // 10 + 1)))
        return cv_task("fsdd", clips)
    if split == "upstream":
        rows = read_csv(root / "meta.csv", ("filename", "label", "fold"))
        return fixed_split_task("fsdd-upstream", [Clip(rec / r["filename"], r["label"], r["fold"]) for r in rows])
    raise UserError(f"fsdd split={split!r} must be 5fold or upstream")


def load_folder(root: Path, folds: int = 5) -> Task:
    """Generic ``root/LABEL/*.wav``: stratified deterministic ``folds``-fold CV."""
    files = sorted(p for p in _dir(root, "audio").glob("*/*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    labels = [p.parent.name for p in files]
    return cv_task(f"folder:{root.name}", [Clip(p, lab, f) for p, lab, f in zip(files, labels,
                                                                                assign_folds(labels, folds))])


def load_csv(csv_path: Path, folds: int = 5) -> Task:
    """Generic CSV with ``filename,label`` and optional ``fold`` (CV fold numbers, or
    train/valid/test); paths are relative to the CSV's folder. Without ``fold``: stratified
    ``folds``-fold CV."""
    rows = read_csv(csv_path, ("filename", "label"))
    base = csv_path.parent
    labels = [r["label"] for r in rows]
    fold = [r["fold"] for r in rows] if rows and "fold" in rows[0] else assign_folds(labels, folds)
    clips = [Clip(base / r["filename"], lab, f) for r, lab, f in zip(rows, labels, fold)]
    name = f"csv:{csv_path.stem}"
    if set(fold) <= {"train", "valid", "test"}:
        return fixed_split_task(name, clips)
    return cv_task(name, clips)


LOADERS: dict[str, Callable[..., Task]] = {
    "esc50": load_esc50, "urbansound8k": load_urbansound8k, "speechcommands": load_speechcommands,
    "gtzan": load_gtzan, "nsynth": load_nsynth, "cremad": load_cremad, "voxceleb1": load_voxceleb1,
    "fsdd": load_fsdd, "folder": load_folder, "csv": load_csv,
}


def load_task(name: str, root: str | Path, **kwargs) -> Task:
    """``load_task("fsdd", "/data/fsdd")``; ``kwargs`` go to the loader (``folds=``, ``split=``)."""
    if name not in LOADERS:
        raise UserError(f"task {name!r} must be one of {', '.join(LOADERS)}")
    root = Path(root)
    if not root.exists():
        raise UserError(f"task root {root} does not exist")
    return LOADERS[name](root, **kwargs)
