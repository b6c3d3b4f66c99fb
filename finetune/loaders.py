"""Task loaders reading each dataset's published on-disk layout (no conversion step).

==================  ==================================================================  ====================  ======
task                layout under ``root`` (the published archives, unpacked)            protocol              clip s
==================  ==================================================================  ====================  ======
``esc50``           ``audio/*.wav`` + ``meta/esc50.csv`` (filename,fold,target,...)     5-fold CV             5.0
``urbansound8k``    ``audio/foldN/*.wav`` + ``metadata/UrbanSound8K.csv``               10-fold CV            4.0
``speechcommands``  V2: ``WORD/*.wav`` + ``validation_list.txt`` + ``testing_list.txt``  train/valid/test      1.0
``spcv1``           V1, the same layout (30 words)                                      train/valid/test      1.0
``gtzan``           ``[genres/]GENRE/GENRE.000NN.wav``                                  10-fold CV            30.0
``nsynth``          ``nsynth-{train,valid,test}/examples.json`` + ``audio/*.wav``       train/valid/test      4.0
``cremad``          ``[AudioWAV/]ACTOR_SENTENCE_EMOTION_LEVEL.wav``                     5-fold CV by actor    2.5
``voxceleb1``       ``iden_split.txt`` + ``wav/idXXXXX/VIDEO/NNNNN.wav``                train/valid/test      8.2
``voxforge``        ``LANG/SPEAKER-DATE-ID/wav/*.wav`` (de en es fr it ru archives)     70/15/15 by folder    5.8
``surge``           ``TONE/NOTE.ogg`` (label: the note, file stem)                      80/10/10 by tone      4.0
``fsdnoisy18k``     ``FSDnoisy18k.meta/{train,test}.csv`` + ``FSDnoisy18k.audio_*/``    train(10% valid)/test 8.25
``fsd50k``          ``FSD50K.ground_truth/{dev,eval}.csv`` + ``FSD50K.{dev,eval}_audio/`` train/val/eval, mAP  7.6358
``as20k``           ``{balanced_train,eval}_segments.csv`` + ``class_labels_indices.csv``  train/eval, mAP       10.0
                    + ``audio/{balanced_train,eval}/[Y]YTID*.wav``
``fsdd``            ``recordings/{digit}_{speaker}_{index}.wav`` [+ ``meta_5fold.csv``]  5-fold CV             own
``folder``          ``LABEL/*.wav`` (any of .wav .flac .ogg)                            k-fold CV             own
``csv``             a CSV with ``filename,label[,fold]`` (paths relative to the CSV)      CV or splits          own
==================  ==================================================================  ====================  ======

The clip lengths are those of the EVAR evaluation package's task table: every clip is cropped
from its start or padded to it before it is embedded (``--clip-seconds`` overrides). Where EVAR
ships its own split file (VoxForge, Surge, FSDnoisy18k's validation clips), the split here is a
deterministic stand-in of the same proportions, documented per loader.

Every loader returns a ``Task`` and raises ``UserError`` (one line naming the file) for a
missing metadata file, a missing CSV column or a listed audio file that does not exist.
"""
from __future__ import annotations

import csv
import json
import re
import sys
import zlib
from pathlib import Path
from typing import Callable

from finetune.task import Clip, Task, UserError, assign_folds, cv_task, fixed_split_task
from pretrain.frontend import AUDIO_SUFFIXES

# published clip length per task in seconds (the EVAR task table); absent: each clip's own
CLIP_SECONDS = {"esc50": 5.0, "urbansound8k": 4.0, "speechcommands": 1.0, "spcv1": 1.0, "voxceleb1": 8.2,
                "voxforge": 5.8, "cremad": 2.5, "gtzan": 30.0, "nsynth": 4.0, "surge": 4.0,
                "fsd50k": 7.6358, "fsdnoisy18k": 8.25, "as20k": 10.0}


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
    return cv_task("esc50", [Clip(audio / r["filename"], r["category"], r["fold"]) for r in rows], CLIP_SECONDS["esc50"])


def load_urbansound8k(root: Path) -> Task:
    rows = read_csv(root / "metadata" / "UrbanSound8K.csv", ("slice_file_name", "fold", "class"))
    audio = _dir(root / "audio", "UrbanSound8K audio")
    return cv_task("urbansound8k", [Clip(audio / f"fold{r['fold']}" / r["slice_file_name"], r["class"], r["fold"])
                                    for r in rows], CLIP_SECONDS["urbansound8k"])


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        raise UserError(f"split list {path} does not exist")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def load_speechcommands(root: Path, name: str = "speechcommands") -> Task:
    """All words of Speech Commands V2 (35 classes; V1: 30); ``_background_noise_`` is not a class."""
    valid = _read_list(root / "validation_list.txt")
    test = _read_list(root / "testing_list.txt")
    clips = []
    for wav in sorted(_dir(root, "Speech Commands").glob("*/*.wav")):
        word = wav.parent.name
        if word.startswith("_"):
            continue
        rel = f"{word}/{wav.name}"
        clips.append(Clip(wav, word, "test" if rel in test else "valid" if rel in valid else "train"))
    return fixed_split_task(name, clips, CLIP_SECONDS[name])


def load_spcv1(root: Path) -> Task:
    """Speech Commands V1 (30 words), the same layout as V2."""
    return load_speechcommands(root, "spcv1")


def load_gtzan(root: Path) -> Task:
    """Genre folders; fold = (track number mod 10) + 1, i.e. 10 stratified folds of 10 tracks
    per genre (a deterministic stand-in for the usual random 10-fold split)."""
    base = root / "genres" if (root / "genres").is_dir() else root / "genres_original" \
        if (root / "genres_original").is_dir() else root
    clips = []
    for path in sorted(_dir(base, "GTZAN").glob("*/*")):
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        m = re.search(r"\.(\d+)$", path.stem)
        if not m:
            raise UserError(f"GTZAN file name {path.name} must look like GENRE.000NN.wav")
        clips.append(Clip(path, path.parent.name, str(int(m.group(1)) % 10 + 1)))
    return cv_task("gtzan", clips, CLIP_SECONDS["gtzan"])


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
    return fixed_split_task("nsynth", clips, CLIP_SECONDS["nsynth"])


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
    return cv_task("cremad", clips, CLIP_SECONDS["cremad"])


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
    return fixed_split_task("voxceleb1", clips, CLIP_SECONDS["voxceleb1"])


def _share(key: str, valid: float, test: float) -> str:
    """Deterministic split of a group key (a speaker folder, a tone): train / valid / test in the
    given proportions, by a CRC-32 hash of the key (stable across machines and Python runs)."""
    u = zlib.crc32(key.encode()) / 2 ** 32
    return "test" if u < test else "valid" if u < test + valid else "train"


VOXFORGE_LANGUAGES = ("de", "en", "es", "fr", "it", "ru")


def load_voxforge(root: Path) -> Task:
    """Spoken-language identification (6 languages) from the unpacked VoxForge archives:
    ``LANG/SPEAKER-DATE-ID/wav/*.wav``. Split by archive folder (one speaker session), 70 / 15 /
    15 % train / valid / test as EVAR's proportions, by a hash of the folder name."""
    clips = []
    for lang in VOXFORGE_LANGUAGES:
        if not (root / lang).is_dir():
            continue
        for wav in sorted((root / lang).glob("*/wav/*.wav")):
            clips.append(Clip(wav, lang, _share(wav.parent.parent.name, 0.15, 0.15)))
    if not clips:
        raise UserError(f"VoxForge folder {root} has no LANG/SPEAKER-DATE-ID/wav/*.wav for languages "
                        f"{', '.join(VOXFORGE_LANGUAGES)}")
    return fixed_split_task("voxforge", clips, CLIP_SECONDS["voxforge"])


def load_surge(root: Path) -> Task:
    """Surge synthesizer pitch (88 notes): ``TONE/NOTE.ogg``, label = the note (file stem); split
    by tone (preset), 80 / 10 / 10 % by a hash of the tone name, so no preset is in two splits."""
    clips = [Clip(p, p.stem, _share(p.parent.name, 0.1, 0.1))
             for p in sorted(_dir(root, "Surge").glob("*/*")) if p.suffix.lower() in AUDIO_SUFFIXES]
    if not clips:
        raise UserError(f"Surge folder {root} has no TONE/NOTE.ogg files")
    return fixed_split_task("surge", clips, CLIP_SECONDS["surge"])


def load_fsdnoisy18k(root: Path) -> Task:
    """20 sound classes: ``FSDnoisy18k.meta/train.csv`` and ``test.csv`` (``fname,label``),
    audio in ``FSDnoisy18k.audio_train/`` and ``FSDnoisy18k.audio_test/``. Every 10th training
    clip of each class (sorted by name) is the validation set (EVAR: a random 10 %)."""
    meta = root / "FSDnoisy18k.meta"
    train = read_csv(meta / "train.csv", ("fname", "label"))
    test = read_csv(meta / "test.csv", ("fname", "label"))
    seen: dict[str, int] = {}
    clips = []
    for r in sorted(train, key=lambda r: r["fname"]):
        n = seen[r["label"]] = seen.get(r["label"], -1) + 1
        clips.append(Clip(root / "FSDnoisy18k.audio_train" / r["fname"], r["label"], "valid" if n % 10 == 9 else "train"))
    clips += [Clip(root / "FSDnoisy18k.audio_test" / r["fname"], r["label"], "test") for r in test]
    return fixed_split_task("fsdnoisy18k", clips, CLIP_SECONDS["fsdnoisy18k"])


def load_fsd50k(root: Path) -> Task:
    """Multi-label (200 classes, mAP): ``FSD50K.ground_truth/dev.csv`` (``fname,labels,mids,split``
    with split train/val) and ``eval.csv`` (``fname,labels,mids``); labels comma-separated; audio
    ``FSD50K.dev_audio/FNAME.wav`` and ``FSD50K.eval_audio/FNAME.wav``."""
    truth = root / "FSD50K.ground_truth"
    dev = read_csv(truth / "dev.csv", ("fname", "labels", "split"))
    ev = read_csv(truth / "eval.csv", ("fname", "labels"))
    names = {"train": "train", "val": "valid"}
    clips = []
    for r in dev:
        if r["split"] not in names:
            raise UserError(f"{truth / 'dev.csv'}: split {r['split']!r} of {r['fname']} must be train or val")
        clips.append(Clip(root / "FSD50K.dev_audio" / f"{r['fname']}.wav", _tags(r["labels"]), names[r["split"]]))
    clips += [Clip(root / "FSD50K.eval_audio" / f"{r['fname']}.wav", _tags(r["labels"]), "test") for r in ev]
    return fixed_split_task("fsd50k", clips, CLIP_SECONDS["fsd50k"], multilabel=True)


def _tags(field: str) -> tuple[str, ...]:
    return tuple(sorted({t.strip() for t in field.split(",") if t.strip()}))


def _audioset_rows(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """``(YTID, label mids)`` from an AudioSet segments CSV (``#`` comment lines, then
    ``YTID, start_seconds, end_seconds, "mid1,mid2"``)."""
    if not path.is_file():
        raise UserError(f"metadata file {path} does not exist")
    rows = []
    for row in csv.reader((ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")),
                          skipinitialspace=True):
        if len(row) < 4:
            raise UserError(f"{path}: row {row!r} must be YTID, start_seconds, end_seconds, positive_labels")
        rows.append((row[0], _tags(row[3])))
    return rows


def _youtube_id(stem: str) -> str:
    """The 11-character YouTube id of ``YTID``, ``YTID_30.000...``, ``YYTID`` or ``YYTID_30.000``."""
    if len(stem) == 11 or (len(stem) > 11 and stem[11] in "_.") or not stem.startswith("Y"):
        return stem[:11]
    return stem[1:12]


def load_as20k(root: Path) -> Task:
    """AudioSet balanced train (~20k clips) vs eval, multi-label (527 classes, mAP):
    ``balanced_train_segments.csv``, ``eval_segments.csv`` and ``class_labels_indices.csv``
    (``index,mid,display_name``) as published, audio ``audio/balanced_train/`` and
    ``audio/eval/`` with file names starting with the YouTube id (``[Y]YTID...``). AudioSet
    copies always miss some videos: listed clips without a file are left out and counted on
    stderr (as EVAR builds its list from the files present)."""
    names = {r["mid"]: r["display_name"] for r in read_csv(root / "class_labels_indices.csv", ("mid", "display_name"))}
    clips, absent = [], 0
    for split, csv_name, folder in (("train", "balanced_train_segments.csv", "balanced_train"),
                                    ("test", "eval_segments.csv", "eval")):
        rows = _audioset_rows(root / csv_name)
        audio = _dir(root / "audio" / folder, "AudioSet audio")
        files = {}
        for p in sorted(audio.iterdir()):
            if p.suffix.lower() in AUDIO_SUFFIXES:
                files.setdefault(_youtube_id(p.stem), p)
        for ytid, mids in rows:
            unknown = [m for m in mids if m not in names]
            if unknown:
                raise UserError(f"{root / csv_name}: {ytid} has label {unknown[0]} not in class_labels_indices.csv")
            if ytid in files:
                clips.append(Clip(files[ytid], tuple(names[m] for m in mids), split))
            else:
                absent += 1
    if absent:
        print(f"as20k: {absent} listed clips have no audio file under {root / 'audio'} and are left out",
              file=sys.stderr)
    return fixed_split_task("as20k", clips, CLIP_SECONDS["as20k"], multilabel=True)


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
    files = sorted(p for p in _dir(root, "audio").glob("*/*") if p.suffix.lower() in AUDIO_SUFFIXES)
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
    "fsdd": load_fsdd, "folder": load_folder, "csv": load_csv, "spcv1": load_spcv1, "voxforge": load_voxforge,
    "surge": load_surge, "fsdnoisy18k": load_fsdnoisy18k, "fsd50k": load_fsd50k, "as20k": load_as20k,
}


# the layout each loader expects, for --help
LAYOUTS = {
    "esc50": "audio/*.wav + meta/esc50.csv",
    "urbansound8k": "audio/foldN/*.wav + metadata/UrbanSound8K.csv",
    "speechcommands": "(V2) WORD/*.wav + validation_list.txt + testing_list.txt",
    "spcv1": "(V1) WORD/*.wav + validation_list.txt + testing_list.txt",
    "gtzan": "[genres/]GENRE/GENRE.000NN.wav",
    "nsynth": "nsynth-{train,valid,test}/examples.json + audio/",
    "cremad": "[AudioWAV/]ACTOR_SENTENCE_EMOTION_LEVEL.wav",
    "voxceleb1": "iden_split.txt + wav/idXXXXX/VIDEO/NNNNN.wav",
    "voxforge": "LANG/SPEAKER-DATE-ID/wav/*.wav",
    "surge": "TONE/NOTE.ogg",
    "fsdnoisy18k": "FSDnoisy18k.meta/{train,test}.csv + FSDnoisy18k.audio_{train,test}/",
    "fsd50k": "FSD50K.ground_truth/{dev,eval}.csv + FSD50K.{dev,eval}_audio/",
    "as20k": "{balanced_train,eval}_segments.csv + class_labels_indices.csv + audio/{balanced_train,eval}/",
    "fsdd": "recordings/*.wav [+ meta_5fold.csv]",
    "folder": "LABEL/*.wav",
    "csv": "a CSV filename,label[,fold]",
}


def load_task(name: str, root: str | Path, **kwargs) -> Task:
    """``load_task("fsdd", "/data/fsdd")``; ``kwargs`` go to the loader (``folds=``, ``split=``)."""
    if name not in LOADERS:
        raise UserError(f"task {name!r} must be one of {', '.join(LOADERS)}")
    root = Path(root)
    if not root.exists():
        raise UserError(f"task root {root} does not exist")
    return LOADERS[name](root, **kwargs)
