"""Every loader on a tiny generated fixture in the dataset's published layout."""
import json
from pathlib import Path

import pytest

from finetune.loaders import load_task
from finetune.task import UserError
from tests.finetune.fixtures import write_wav
from tests.helpers import shared_data



def _folds(task):
    return [(s.name, len(s.train), len(s.test), len(s.valid)) for s in task.splits]


def test_esc50(tmp_path):
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    for fold in (1, 2, 3, 4, 5):
        for target, cat in ((0, "dog"), (1, "rooster")):
            name = f"{fold}-1000{target}-A-{target}.wav"
            write_wav(tmp_path / "audio" / name)
            rows.append(f"{name},{fold},{target},{cat},True,1000{target},A")
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
    task = load_task("esc50", tmp_path)
    assert task.classes == ("dog", "rooster") and len(task.clips) == 10
    assert _folds(task) == [(f"fold{f}", 8, 2, 0) for f in range(1, 6)]
    assert all(c.path.is_file() for c in task.clips)


def test_esc50_missing_column_names_file_and_column(tmp_path):
    (tmp_path / "meta").mkdir()
    (tmp_path / "audio").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text("filename,target\na.wav,0\n")
    with pytest.raises(UserError, match=r"esc50.csv: missing column\(s\) fold, category"):
        load_task("esc50", tmp_path)


def test_urbansound8k(tmp_path):
    rows = ["slice_file_name,fsID,start,end,salience,fold,classID,class"]
    for fold in range(1, 11):
        for cid, cls in ((3, "dog_bark"), (8, "siren")):
            name = f"{100 + fold}-{cid}-0-0.wav"
            write_wav(tmp_path / "audio" / f"fold{fold}" / name)
            rows.append(f"{name},{100 + fold},0.0,0.3,1,{fold},{cid},{cls}")
    (tmp_path / "metadata").mkdir()
    (tmp_path / "metadata" / "UrbanSound8K.csv").write_text("\n".join(rows) + "\n")
    task = load_task("urbansound8k", tmp_path)
    assert len(task.splits) == 10 and task.splits[9].name == "fold10"
    assert task.clips[-1].path == tmp_path / "audio" / "fold10" / "110-8-0-0.wav"


def test_speechcommands(tmp_path):
    for word in ("yes", "no"):
        for i in range(3):
            write_wav(tmp_path / word / f"abc{i}_nohash_0.wav")
    write_wav(tmp_path / "_background_noise_" / "white_noise.wav")
    (tmp_path / "validation_list.txt").write_text("yes/abc1_nohash_0.wav\nno/abc1_nohash_0.wav\n")
    (tmp_path / "testing_list.txt").write_text("yes/abc2_nohash_0.wav\nno/abc2_nohash_0.wav\n")
    task = load_task("speechcommands", tmp_path)
    assert task.classes == ("no", "yes")
    assert _folds(task) == [("test", 2, 2, 2)]
    assert {task.clips[i].path.name for i in task.splits[0].test} == {"abc2_nohash_0.wav"}


def test_gtzan(tmp_path):
    for genre in ("blues", "rock"):
        for i in range(20):
            write_wav(tmp_path / "genres" / genre / f"{genre}.{i:05d}.wav", seconds=0.05)
    task = load_task("gtzan", tmp_path)
    assert len(task.splits) == 10 and all(len(s.test) == 4 for s in task.splits)
    assert task.classes == ("blues", "rock")


def test_nsynth(tmp_path):
    for split in ("train", "valid", "test"):
        examples = {}
        for fam in ("bass", "guitar"):
            note = f"{fam}_acoustic_000-060-100"
            write_wav(tmp_path / f"nsynth-{split}" / "audio" / f"{note}.wav")
            examples[note] = {"instrument_family_str": fam, "pitch": 60}
        (tmp_path / f"nsynth-{split}" / "examples.json").write_text(json.dumps(examples))
    task = load_task("nsynth", tmp_path)
    assert _folds(task) == [("test", 2, 2, 2)] and task.classes == ("bass", "guitar")


def test_cremad(tmp_path):
    for actor in (1001, 1002, 1003, 1004, 1005):
        for emo in ("ANG", "SAD"):
            write_wav(tmp_path / "AudioWAV" / f"{actor}_DFA_{emo}_XX.wav")
    task = load_task("cremad", tmp_path)
    assert task.classes == ("anger", "sad") and len(task.splits) == 5
    for s in task.splits:  # speaker-independent: no actor in both train and test
        train_actors = {task.clips[i].path.name[:4] for i in s.train}
        assert not train_actors & {task.clips[i].path.name[:4] for i in s.test}
    write_wav(tmp_path / "AudioWAV" / "oops.wav")
    with pytest.raises(UserError, match="oops.wav"):
        load_task("cremad", tmp_path)


def test_voxceleb1(tmp_path):
    lines = []
    for spk in ("id10001", "id10002"):
        for split in (1, 2, 3):
            rel = f"{spk}/vid{split}/00001.wav"
            write_wav(tmp_path / "wav" / rel)
            lines.append(f"{split} {rel}")
    (tmp_path / "iden_split.txt").write_text("\n".join(lines) + "\n")
    task = load_task("voxceleb1", tmp_path)
    assert task.classes == ("id10001", "id10002") and _folds(task) == [("test", 2, 2, 2)]
    (tmp_path / "iden_split.txt").write_text("4 id10001/x.wav\n")
    with pytest.raises(UserError, match="iden_split.txt line 1"):
        load_task("voxceleb1", tmp_path)


def _fsdd_fixture(root: Path) -> None:
    for digit in ("0", "1"):
        for spk in ("george", "theo"):
            for idx in (0, 12, 25, 38, 49):
                write_wav(root / "recordings" / f"{digit}_{spk}_{idx}.wav", seconds=0.05)


def test_fsdd_from_names_and_csvs(tmp_path):
    _fsdd_fixture(tmp_path)
    task = load_task("fsdd", tmp_path)  # no CSV: fold = index // 10 + 1
    assert len(task.splits) == 5 and all(len(s.test) == 4 for s in task.splits)
    rows = ["filename,label,speaker,index,fold"] + [
        f"{p.name},{p.name[0]},{p.stem.split('_')[1]},{p.stem.split('_')[2]},{int(p.stem.split('_')[2]) // 10 + 1}"
        for p in sorted((tmp_path / "recordings").glob("*.wav"))]
    (tmp_path / "meta_5fold.csv").write_text("\n".join(rows) + "\n")
    from_csv = load_task("fsdd", tmp_path)
    assert sorted((c.path, c.fold) for c in from_csv.clips) == sorted((c.path, c.fold) for c in task.clips)
    meta = ["filename,label,speaker,fold"] + [
        f"{p.name},{p.name[0]},x,{'test' if int(p.stem.split('_')[2]) < 5 else 'train'}"
        for p in sorted((tmp_path / "recordings").glob("*.wav"))]
    (tmp_path / "meta.csv").write_text("\n".join(meta) + "\n")
    up = load_task("fsdd", tmp_path, split="upstream")
    assert _folds(up) == [("test", 16, 4, 0)]


def test_folder_and_csv_loaders(tmp_path, tone_folder):
    task = load_task("folder", tone_folder, folds=5)
    assert task.classes == ("high", "low") and len(task.splits) == 5
    for s in task.splits:  # stratified: every test fold has both classes
        assert {task.clips[i].label for i in s.test} == {"high", "low"}
    csv_path = tone_folder / "list.csv"
    csv_path.write_text("filename,label,fold\n" + "".join(
        f"{c.path.relative_to(tone_folder)},{c.label},{'test' if i % 4 == 0 else 'train'}\n"
        for i, c in enumerate(task.clips)))
    from_csv = load_task("csv", csv_path)
    assert from_csv.splits[0].name == "test" and len(from_csv.splits[0].test) == 5


def test_unknown_task_and_missing_root(tmp_path):
    with pytest.raises(UserError, match="task 'audioset' must be one of"):
        load_task("audioset", tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        load_task("esc50", tmp_path / "nope")


@pytest.mark.parametrize("name, clips, fold", [("fsdd", 3000, 600), ("instruments", 300, 60)])
def test_real_layouts(name, clips, fold):
    task = load_task(name, shared_data(name))
    assert len(task.clips) == clips and len(task.classes) == 10
    assert [len(s.test) for s in task.splits] == [fold] * 5
    assert all(c.path.is_file() for c in task.clips[:50])


def test_task_clip_lengths_follow_the_published_table(tmp_path):
    from finetune.loaders import TASKS

    assert TASKS["esc50"].clip_seconds == 5.0 and TASKS["fsd50k"].clip_seconds == 7.6358
    assert TASKS["as20k"].clip_seconds == 10.0
    _fsdd_fixture(tmp_path)
    assert load_task("fsdd", tmp_path).clip_seconds is None  # FSDD: each clip's own length
    assert load_task("fsdd", tmp_path).with_clip_seconds(2.0).clip_seconds == 2.0
    with pytest.raises(UserError, match="clip length -1.0 s must be > 0"):
        load_task("fsdd", tmp_path).with_clip_seconds(-1.0)


def test_spcv1_voxforge_surge(tmp_path):
    for word in ("yes", "no"):
        for i in range(3):
            write_wav(tmp_path / "spc" / word / f"abc{i}_nohash_0.wav", seconds=0.05)
    (tmp_path / "spc" / "validation_list.txt").write_text("yes/abc1_nohash_0.wav\n")
    (tmp_path / "spc" / "testing_list.txt").write_text("no/abc2_nohash_0.wav\n")
    spc = load_task("spcv1", tmp_path / "spc")
    assert spc.name == "spcv1" and spc.clip_seconds == 1.0 and _folds(spc) == [("test", 4, 1, 1)]

    for lang in ("de", "fr"):
        for spk in range(12):
            for i in range(2):
                write_wav(tmp_path / "vf" / lang / f"spk{spk}-20080101-abc" / "wav" / f"a{i}.wav", seconds=0.05)
    vf = load_task("voxforge", tmp_path / "vf")
    assert vf.classes == ("de", "fr") and vf.clip_seconds == 5.8 and len(vf.clips) == 48
    by_folder = {}
    for c in vf.clips:  # one speaker session is never in two splits
        by_folder.setdefault(c.path.parent.parent, set()).add(c.fold)
    assert all(len(v) == 1 for v in by_folder.values())
    assert {c.fold for c in vf.clips} >= {"train", "test"}
    with pytest.raises(UserError, match="no LANG/SPEAKER-DATE-ID/wav"):
        load_task("voxforge", tmp_path / "spc")

    for tone in range(30):
        for note in ("C4", "D4"):
            write_wav(tmp_path / "surge" / f"tone{tone:02d}" / f"{note}.ogg", seconds=0.05)
    surge = load_task("surge", tmp_path / "surge")
    assert surge.classes == ("C4", "D4") and surge.clip_seconds == 4.0
    tones = {}
    for c in surge.clips:
        tones.setdefault(c.path.parent.name, set()).add(c.fold)
    assert all(len(v) == 1 for v in tones.values()) and len(surge.splits[0].test) > 0


def test_fsdnoisy18k(tmp_path):
    meta = tmp_path / "FSDnoisy18k.meta"
    meta.mkdir()
    train = ["fname,label,aso_id,manually_verified,noisy_small"]
    for lab in ("Rain", "Fire"):
        for i in range(20):
            write_wav(tmp_path / "FSDnoisy18k.audio_train" / f"{lab}{i}.wav", seconds=0.05)
            train.append(f"{lab}{i}.wav,{lab},/m/x,0,1")
    (meta / "train.csv").write_text("\n".join(train) + "\n")
    write_wav(tmp_path / "FSDnoisy18k.audio_test" / "t.wav", seconds=0.05)
    (meta / "test.csv").write_text("fname,label,aso_id\nt.wav,Rain,/m/x\n")
    task = load_task("fsdnoisy18k", tmp_path)
    assert _folds(task) == [("test", 36, 1, 4)] and task.clip_seconds == 8.25
    (meta / "test.csv").unlink()
    with pytest.raises(UserError, match=r"FSDnoisy18k.meta/test.csv does not exist"):
        load_task("fsdnoisy18k", tmp_path)


def test_fsd50k_is_multilabel(tmp_path):
    truth = tmp_path / "FSD50K.ground_truth"
    truth.mkdir()
    dev = ["fname,labels,mids,split"]
    for i, (labels, split) in enumerate([("Bark,Dog", "train"), ("Rain", "train"), ("Dog", "val")]):
        write_wav(tmp_path / "FSD50K.dev_audio" / f"{i}.wav", seconds=0.05)
        dev.append(f'{i},"{labels}","/m/a",{split}')
    (truth / "dev.csv").write_text("\n".join(dev) + "\n")
    write_wav(tmp_path / "FSD50K.eval_audio" / "9.wav", seconds=0.05)
    (truth / "eval.csv").write_text('fname,labels,mids\n9,"Rain,Dog","/m/a"\n')
    task = load_task("fsd50k", tmp_path)
    assert task.multilabel and task.metric == "mAP" and task.classes == ("Bark", "Dog", "Rain")
    assert task.labels().tolist() == [[1, 1, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1]]
    assert _folds(task) == [("test", 2, 1, 1)] and task.clip_seconds == 7.6358
    (truth / "dev.csv").write_text("fname,labels\n1,Dog\n")
    with pytest.raises(UserError, match=r"dev.csv: missing column\(s\) split"):
        load_task("fsd50k", tmp_path)


def test_as20k_reads_audioset_csvs_and_leaves_out_absent_videos(tmp_path, capsys):
    (tmp_path / "class_labels_indices.csv").write_text(
        'index,mid,display_name\n0,/m/09x0r,"Speech"\n1,/m/04rlf,"Music"\n')
    head = "# Segments csv created Sun Mar  5 10:54:31 2017\n# num_ytids=3\n# YTID, start_seconds, end_seconds, positive_labels\n"
    (tmp_path / "balanced_train_segments.csv").write_text(
        head + '--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/m/04rlf"\nYabcdefghij, 0.000, 10.000, "/m/04rlf"\n'
               'zzzzzzzzzzz, 0.000, 10.000, "/m/04rlf"\n')
    (tmp_path / "eval_segments.csv").write_text(head + 'abcdefghijk, 0.000, 10.000, "/m/09x0r"\n')
    write_wav(tmp_path / "audio" / "balanced_train" / "Y--PJHxphWEs_30.000_40.000.wav", seconds=0.05)
    write_wav(tmp_path / "audio" / "balanced_train" / "Yabcdefghij.wav", seconds=0.05)
    write_wav(tmp_path / "audio" / "eval" / "abcdefghijk_0.000.flac", seconds=0.05)
    task = load_task("as20k", tmp_path)
    assert task.multilabel and task.classes == ("Music", "Speech") and task.clip_seconds == 10.0
    assert [c.label for c in task.clips] == [("Music", "Speech"), ("Music",), ("Speech",)]
    assert _folds(task) == [("test", 2, 1, 0)]
    assert "1 listed clips have no audio file" in capsys.readouterr().err
    (tmp_path / "eval_segments.csv").write_text(head + 'abcdefghijk, 0.000, 10.000, "/m/nope"\n')
    with pytest.raises(UserError, match="label /m/nope not in class_labels_indices.csv"):
        load_task("as20k", tmp_path)


def test_load_task_applies_the_published_clip_length_of_the_record(tmp_path):
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    for fold in (1, 2):
        write_wav(tmp_path / "audio" / f"{fold}-1-A-0.wav")
        rows.append(f"{fold}-1-A-0.wav,{fold},0,dog,True,1,A")
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
    assert load_task("esc50", tmp_path).clip_seconds == 5.0


def test_adding_a_task_is_one_record(tmp_path, monkeypatch):
    """A loader function and one TaskSpec: load_task, the --task help and the docs table follow."""
    from finetune import loaders
    from finetune.loaders import TaskSpec, task_help, tasks_table
    from finetune.task import Clip, cv_task

    def load_tones(root):
        return cv_task("tones", [Clip(p, p.stem.split("-")[0], p.stem.split("-")[1])
                                 for p in sorted(root.glob("*.wav"))])

    for label in ("lo", "hi"):
        for fold in (1, 2):
            write_wav(tmp_path / f"{label}-{fold}.wav")
    monkeypatch.setitem(loaders.TASKS, "tones", TaskSpec("tones", load_tones, "`LABEL-FOLD.wav`", "2-fold CV",
                                                         0.5, "made here"))
    task = load_task("tones", tmp_path)
    assert task.classes == ("hi", "lo") and len(task.clips) == 4 and task.clip_seconds == 0.5
    assert "tones: LABEL-FOLD.wav" in task_help()
    assert "| `tones` | `LABEL-FOLD.wav` | 2-fold CV | 0.5 | made here |" in tasks_table()


def test_docs_task_table_is_the_records_table():
    from finetune.loaders import tasks_table
    from tests.helpers import REPO

    assert tasks_table() in (REPO / "docs" / "finetune.md").read_text(), \
        "docs/finetune.md's task table differs from finetune.loaders.tasks_table(): paste it in"


def test_instruments_reads_meta_csv_under_its_root(tmp_path):
    rows = ["filename,label,fold"]
    for label in ("cello", "flute"):
        for fold in (1, 2, 3):
            write_wav(tmp_path / "audio" / label / f"{label}{fold}.wav")
            rows.append(f"audio/{label}/{label}{fold}.wav,{label},{fold}")
    (tmp_path / "meta.csv").write_text("\n".join(rows) + "\n")
    task = load_task("instruments", tmp_path)
    assert task.name == "instruments" and task.classes == ("cello", "flute")
    assert _folds(task) == [(f"fold{f}", 4, 2, 0) for f in (1, 2, 3)]
    assert task.clip_seconds is None
    with pytest.raises(UserError, match="meta.csv"):
        load_task("instruments", tmp_path / "audio")
