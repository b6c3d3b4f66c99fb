"""The data root (finetune/data_root.py): --data-root or SYNTHGEN_DATA, set once, used by task
files; one-line errors when it is missing."""
import pytest

from finetune.data_root import ENV, data_root, expand_root
from finetune.suite import read_task_file, suite_key
from finetune.task import UserError
from tests.helpers import REPO


def test_the_option_wins_over_the_environment(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.setenv(ENV, str(tmp_path / "a"))
    assert data_root() == tmp_path / "a"
    assert data_root(tmp_path / "b") == tmp_path / "b"


def test_missing_or_bad_data_root_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(UserError, match=r"no data root: pass --data-root DIR or set SYNTHGEN_DATA=DIR"):
        data_root()
    monkeypatch.setenv(ENV, str(tmp_path / "nope"))
    with pytest.raises(UserError, match=r"data root .*nope \(SYNTHGEN_DATA\) is not a folder"):
        data_root()
    with pytest.raises(UserError, match=r"data root .*gone \(--data-root\) is not a folder"):
        data_root(tmp_path / "gone")


def test_expand_root_replaces_only_a_leading_synthgen_data(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path))
    assert expand_root("$SYNTHGEN_DATA/fsdd") == tmp_path / "fsdd"
    assert expand_root("${SYNTHGEN_DATA}/instruments/meta.csv") == tmp_path / "instruments" / "meta.csv"
    assert expand_root("$SYNTHGEN_DATA") == tmp_path
    assert str(expand_root("data/$SYNTHGEN_DATA/x")) == "data/$SYNTHGEN_DATA/x"   # not leading: as written
    assert str(expand_root("$SYNTHGEN_DATAX/fsdd")) == "$SYNTHGEN_DATAX/fsdd"   # another variable: as written
    assert expand_root("rel/fsdd").as_posix() == "rel/fsdd"


def test_task_file_roots_under_the_data_root_and_portable_keys(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    path = tmp_path / "tasks.toml"
    path.write_text('[[task]]\nname = "fsdd"\ntask = "fsdd"\nroot = "$SYNTHGEN_DATA/fsdd"\n')
    with pytest.raises(UserError, match=r"tasks.toml: task 'fsdd' root '\$SYNTHGEN_DATA/fsdd': no data root"):
        read_task_file(path)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = read_task_file(path, tmp_path / "one")[0]
    monkeypatch.setenv(ENV, str(tmp_path / "two"))
    two = read_task_file(path)[0]
    assert (one.root, two.root) == (tmp_path / "one" / "fsdd", tmp_path / "two" / "fsdd")
    # the same entry on two machines: the same key, so a committed results file resumes anywhere
    assert suite_key("ckpt", one, {"a": 1}) == suite_key("ckpt", two, {"a": 1})
    assert suite_key("ckpt", one, {"a": 1}) != suite_key("ckpt", one, {"a": 2})


def test_the_evaluation_task_file_names_its_data_under_the_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path))
    tasks = read_task_file(REPO / "docs" / "evaluation" / "tasks.toml")
    assert [(t.name, t.task, t.root) for t in tasks] == [("fsdd", "fsdd", tmp_path / "fsdd"),
                                                         ("instruments", "instruments", tmp_path / "instruments")]
