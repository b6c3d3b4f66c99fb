"""Task loaders reading each dataset's published on-disk layout (no conversion step).

Each task is one record of :data:`TASKS` (:class:`TaskSpec`: loader, layout, protocol,
published clip length, where the data comes from); :func:`load_task` (which applies the clip
length), the ``--task`` help (:func:`task_help`) and the table of docs/finetune.md (:func:`tasks_table`) are
derived from it, so adding a task is one loader function and one record.

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from finetune.recipe import DEFAULT_STEPS, FSDD_STEPS
from finetune.task import Clip, Task, UserError, assign_folds, cv_task, fixed_split_task
from pretrain.frontend import AUDIO_SUFFIXES



def read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV with a header; ``UserError`` (one line naming the file) if the file or
    a required column is missing, the bytes are not UTF-8, or a data row has more or fewer fields
    than the header."""
    if not path.is_file():
        raise UserError(f"metadata file {path} does not exist")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise UserError(f"{path}: missing column(s) {', '.join(missing)} "
                                f"(found: {', '.join(reader.fieldnames or []) or 'no header'})")
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                        f"{exc.start}); save the CSV as UTF-8") from None
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV ({exc})") from None
    for n, r in enumerate(rows, 1):
        columns = [k for k in r if k is not None]
        given = sum(r[k] is not None for k in columns) + len(r.get(None) or [])
        if given != len(columns):
            raise UserError(f"{path}: data row {n} has {given} fields, the header has {len(columns)} "
                            f"({', '.join(columns)})")
    return rows


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
    return fixed_split_task(name, clips)


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
    return fixed_split_task("voxforge", clips)


def load_surge(root: Path) -> Task:
    """Surge synthesizer pitch (88 notes): ``TONE/NOTE.ogg``, label = the note (file stem); split
    by tone (preset), 80 / 10 / 10 % by a hash of the tone name, so no preset is in two splits."""
    clips = [Clip(p, p.stem, _share(p.parent.name, 0.1, 0.1))
             for p in sorted(_dir(root, "Surge").glob("*/*")) if p.suffix.lower() in AUDIO_SUFFIXES]
    if not clips:
        raise UserError(f"Surge folder {root} has no TONE/NOTE.ogg files")
    return fixed_split_task("surge", clips)


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
    return fixed_split_task("fsdnoisy18k", clips)


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
    return fixed_split_task("fsd50k", clips, multilabel=True)


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
    return fixed_split_task("as20k", clips, multilabel=True)


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


def load_csv(csv_path: Path, folds: int = 5, paths_outside: bool = False) -> Task:
    """Generic CSV (UTF-8) with ``filename,label`` and optional ``fold`` (CV fold numbers, or
    train/valid/test); paths are relative to the CSV's folder and must stay inside it (no
    absolute paths, no ``..`` leading out) unless ``paths_outside``. Without ``fold``:
    stratified ``folds``-fold CV."""
    import os

    rows = read_csv(csv_path, ("filename", "label"))
    base = csv_path.parent
    for n, r in enumerate(rows, 1):
        fname = r["filename"]
        if not fname.strip():
            raise UserError(f"{csv_path}: data row {n} has an empty filename")
        outside = os.path.isabs(fname) or os.path.normpath(fname).split(os.sep)[0] == os.pardir
        if outside and not paths_outside:
            raise UserError(f"{csv_path}: data row {n}: filename {fname!r} is outside the CSV's folder "
                            f"{base}; give paths relative to it (or pass --csv-paths-outside)")
    labels = [r["label"] for r in rows]
    fold = [r["fold"] for r in rows] if rows and "fold" in rows[0] else assign_folds(labels, folds)
    clips = [Clip(base / r["filename"], lab, f) for r, lab, f in zip(rows, labels, fold)]
    name = f"csv:{csv_path.stem}"
    if set(fold) <= {"train", "valid", "test"}:
        return fixed_split_task(name, clips)
    return cv_task(name, clips)


def load_instruments(root: Path) -> Task:
    """The instruments task: ``root/meta.csv`` (``filename,label,fold``, five folds) over
    ``root/audio/{label}/{id}.flac``, read by the ``csv`` loader."""
    return replace(load_csv(root / "meta.csv"), name="instruments")


@dataclass(frozen=True)
class TaskSpec:
    """One task: everything the CLI, the docs and the loaders say about it.

    Attributes:
        name: the ``--task`` value.
        loader: ``loader(root, **options) -> Task``.
        layout: what ``--root`` holds (markdown; the ``--help`` text drops the backticks).
        protocol: how the clips are split (and scored, for multi-label tasks).
        clip_seconds: the published clip length (the EVAR task table) every clip is cropped or
            padded to; None: each clip's own length.
        source: where the data comes from: its site and licence (markdown).
        ft_steps: the default budget of ``finetune full`` on the task, in optimizer steps: the
            recipe's (``finetune.recipe.DEFAULT_STEPS``) unless measured otherwise (docs/finetune.md,
            "Is the budget enough?").
    """

    name: str
    loader: Callable[..., Task]
    layout: str
    protocol: str
    clip_seconds: float | None
    source: str
    ft_steps: int = DEFAULT_STEPS


TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in (
    TaskSpec("esc50", load_esc50, "`audio/*.wav`, `meta/esc50.csv` (`filename,fold,target,category,...`)",
             "5-fold CV", 5.0, "github.com/karolpiczak/ESC-50, CC BY-NC 3.0"),
    TaskSpec("urbansound8k", load_urbansound8k, "`audio/foldN/*.wav`, `metadata/UrbanSound8K.csv`",
             "10-fold CV", 4.0, "urbansounddataset.weebly.com, CC BY-NC 3.0"),
    TaskSpec("speechcommands", load_speechcommands, "V2: `WORD/*.wav`, `validation_list.txt`, `testing_list.txt` "
             "(35 words; `_background_noise_` ignored)", "train / valid / test", 1.0,
             "Speech Commands V2 (Warden 2018, arXiv:1804.03209), CC BY 4.0"),
    TaskSpec("spcv1", load_spcv1, "V1 (30 words), the same layout", "train / valid / test", 1.0,
             "Speech Commands V1 (Warden 2018), CC BY 4.0"),
    TaskSpec("gtzan", load_gtzan, "`[genres/]GENRE/GENRE.000NN.wav`", "10-fold CV, fold = track number mod 10", 30.0,
             "marsyas.info (GTZAN genre collection), no licence stated"),
    TaskSpec("nsynth", load_nsynth, "`nsynth-{train,valid,test}/examples.json` + `audio/` (label "
             "`instrument_family_str`)", "train / valid / test", 4.0,
             "magenta.tensorflow.org/datasets/nsynth, CC BY 4.0"),
    TaskSpec("cremad", load_cremad, "`[AudioWAV/]ACTOR_SENTENCE_EMOTION_LEVEL.wav` (6 emotions)",
             "5-fold CV by actor (speaker-independent)", 2.5,
             "github.com/CheyneyComputerScience/CREMA-D, Open Database License"),
    TaskSpec("voxceleb1", load_voxceleb1, "`iden_split.txt`, `wav/idXXXXX/VIDEO/NNNNN.wav` (speaker ID)",
             "train / valid / test", 8.2, "robots.ox.ac.uk/~vgg/data/voxceleb, CC BY 4.0"),
    TaskSpec("voxforge", load_voxforge, "`LANG/SPEAKER-DATE-ID/wav/*.wav`, LANG in de en es fr it ru (language ID)",
             "70 / 15 / 15 % by archive folder (hash)", 5.8, "voxforge.org, GPL"),
    TaskSpec("surge", load_surge, "`TONE/NOTE.ogg` (88 pitch classes = the file stem)",
             "80 / 10 / 10 % by tone (hash)", 4.0,
             "the Surge synthesizer pitch set as the EVAR package prepares it (github.com/nttcslab/eval-audio-repr); "
             "licence: see there"),
    TaskSpec("fsdnoisy18k", load_fsdnoisy18k, "`FSDnoisy18k.meta/{train,test}.csv` (`fname,label`), "
             "`FSDnoisy18k.audio_{train,test}/`", "train (every 10th clip per class: valid) / test", 8.25,
             "zenodo.org/record/2529934, CC BY 4.0"),
    TaskSpec("fsd50k", load_fsd50k, "`FSD50K.ground_truth/{dev,eval}.csv` (`fname,labels,mids[,split]`), "
             "`FSD50K.{dev,eval}_audio/`", "train / val / eval, **multi-label, mAP**", 7.6358,
             "zenodo.org/record/4060432, CC BY 4.0 (clips CC0 / CC BY / CC BY-NC)"),
    TaskSpec("as20k", load_as20k, "`balanced_train_segments.csv`, `eval_segments.csv`, `class_labels_indices.csv`, "
             "`audio/{balanced_train,eval}/[Y]YTID*.wav` (absent videos left out and counted)",
             "balanced train / eval, **multi-label, mAP**", 10.0,
             "research.google.com/audioset (labels CC BY 4.0; the audio is fetched from YouTube)"),
    TaskSpec("fsdd", load_fsdd, "`recordings/{digit}_{speaker}_{index}.wav`, `meta_5fold.csv` (`--fsdd-split "
             "5fold`, default) or `meta.csv` (`--fsdd-split upstream`)", "5-fold CV (speaker-dependent)", None,
             "github.com/Jakobovski/free-spoken-digit-dataset, CC BY-SA 4.0", ft_steps=FSDD_STEPS),
    TaskSpec("instruments", load_instruments, "`audio/{label}/{id}.flac`, `meta.csv` (`filename,label,fold`), "
             "`ATTRIBUTION.csv`", "5-fold CV (6 clips per class per fold)", None,
             "300 manually verified FSDKaggle2018 clips (Freesound; zenodo.org/record/2552860), "
             "per clip CC BY (226) or CC0 (74)"),
    TaskSpec("folder", load_folder, "`LABEL/*.wav` (.wav .flac .ogg)", "`--folds`-fold stratified CV", None,
             "yours"),
    TaskSpec("csv", load_csv, "`--root` is a CSV `filename,label[,fold]`, paths relative to it; `fold` = fold "
             "numbers or train/valid/test", "CV or fixed split", None, "yours"),
)}

def task_help() -> str:
    """The ``--task`` help of ``python -m finetune``: every task and its ``--root`` layout."""
    return "task and the published layout expected under --root: " + "; ".join(
        f"{name}: {spec.layout.replace('`', '')}" for name, spec in TASKS.items())


def tasks_table() -> str:
    """The markdown table of docs/finetune.md ("Tasks"), one row per record of :data:`TASKS`."""
    rows = ["| task | layout under `--root` (the published archive, unpacked) | protocol | clip (s) | source, licence |",
            "|---|---|---|---:|---|"]
    rows += [f"| `{s.name}` | {s.layout} | {s.protocol} | "
             f"{'own' if s.clip_seconds is None else s.clip_seconds} | {s.source} |" for s in TASKS.values()]
    return "\n".join(rows) + "\n"


def load_task(name: str, root: str | Path, **kwargs) -> Task:
    """``load_task("fsdd", "/data/fsdd")``; ``kwargs`` go to the loader (``folds=``, ``split=``)."""
    spec = TASKS.get(name)
    if spec is None:
        raise UserError(f"task {name!r} must be one of {', '.join(TASKS)}")
    root = Path(root)
    if not root.exists():
        raise UserError(f"task root {root} does not exist")
    task = spec.loader(root, **kwargs)
    return task if spec.clip_seconds is None else task.with_clip_seconds(spec.clip_seconds)
