"""predict / evaluate on a CSV whose header lacks a column the model was trained on: the columns used
to be taken by position then, silently, so a file with the columns in another order and one renamed fed
one feature's values as another's. Now one error line naming the missing columns, exit 2, as
fm.load(model).predict(df) refuses such a DataFrame; a header with every name still takes them by name
(any order, extra columns ignored) and a file without a header by position."""

import numpy as np
import pytest

from fastmlp.cli import main


@pytest.fixture
def model(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.array(["a", "b"])[(X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)]
    rows = ["x1,x2,x3,label"] + [f"{a!r},{b!r},{c!r},{t}" for (a, b, c), t in zip(X.tolist(), y.tolist())]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    path = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "train",
                str(tmp_path / "train.csv"),
                "--target",
                "label",
                "--epochs",
                "3",
                "--verbose",
                "0",
                "--out",
                str(path),
            ]
        )
        == 0
    )
    return path


def _proba(capsys, model, csv):
    capsys.readouterr()
    assert main(["predict", str(model), str(csv), "--proba"]) == 0
    return capsys.readouterr().out.splitlines()[1]


@pytest.mark.parametrize("header", ["x2,x1,z", "a,b,c", "x1,x2"])
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_a_header_without_a_training_column_is_refused(tmp_path, capsys, model, header, command):
    n = len(header.split(","))
    cells = ",".join(["0.5"] * n)
    csv = tmp_path / "new.csv"
    csv.write_text(f"{header},label\n{cells},a\n" if command == "evaluate" else f"{header}\n{cells}\n")
    capsys.readouterr()
    assert main([command, str(model), str(csv)]) == 2
    err = capsys.readouterr().err
    assert "header has no column" in err and "'x3'" in err and len(err.strip().splitlines()) == 1


def test_named_columns_in_any_order_and_rows_without_header_still_predict(tmp_path, capsys, model):
    (tmp_path / "ord.csv").write_text("x1,x2,x3\n2,3,1\n")
    (tmp_path / "perm.csv").write_text("x3,extra,x1,x2\n1,9,2,3\n")
    (tmp_path / "nohdr.csv").write_text("2,3,1\n")
    expected = _proba(capsys, model, tmp_path / "ord.csv")
    assert _proba(capsys, model, tmp_path / "perm.csv") == expected
    assert _proba(capsys, model, tmp_path / "nohdr.csv") == expected


def test_a_model_with_learned_columns_still_reads_its_raw_columns_by_name(tmp_path, capsys):
    """Its feature names include the missing indicators ("holes_na") that no CSV holds: the raw columns,
    not the feature names, are what the header must have."""
    pytest.importorskip("pandas")
    rows = ["num,cat,holes,label"] + [
        f"{i * 0.1},{'red' if i % 3 else 'blue'},{'' if i % 4 == 0 else i},{'a' if i % 2 else 'b'}" for i in range(40)
    ]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    path = tmp_path / "m.safetensors"
    args = ["train", str(tmp_path / "train.csv"), "--target", "label", "--epochs", "2", "--verbose", "0"]
    assert main([*args, "--out", str(path)]) == 0
    (tmp_path / "new.csv").write_text("holes,cat,num\n,green,0.5\n3,red,1.5\n")
    capsys.readouterr()
    assert main(["predict", str(path), str(tmp_path / "new.csv")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    (tmp_path / "bad.csv").write_text("holes,num\n1,0.5\n")
    assert main(["predict", str(path), str(tmp_path / "bad.csv")]) == 2
    assert "'cat'" in capsys.readouterr().err
