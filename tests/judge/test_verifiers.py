"""Code and math verifiers, and verifier results as scores and CodeDPO-style pairs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from preflab.judge import (
    answers_equivalent,
    extract_answer,
    run_verifier,
    scores_to_pairs,
    verify_code,
    verify_math,
)

ADD = "def add(a, b):\n    return a + b\n"


def test_code_per_test_statuses() -> None:
    res = verify_code(
        ADD,
        ["assert add(1, 2) == 3", "assert add(1, 1) == 3", "add(None, 1)", "while True: pass"],
        timeout=0.5,
    )
    assert [t.status for t in res.tests] == ["pass", "fail", "error", "timeout"]
    assert "TypeError" in res.tests[2].message
    assert res.n_passed == 1 and res.score == 0.25 and not res.passed and res.status == "timeout"
    ok = verify_code(ADD, "assert add(2, 2) == 4")
    assert ok.passed and ok.status == "pass" and ok.score == 1.0


def test_code_limits_and_crashes() -> None:
    mem = verify_code("x = bytearray(2 * 1024 ** 3)", ["assert True"], memory_mb=256)
    assert mem.tests[0].status == "error" and "MemoryError" in mem.tests[0].message
    died = verify_code("import os\nos._exit(3)", ["assert True", "assert 1"])
    assert [t.status for t in died.tests] == ["error", "error"]
    assert "exit status 3" in died.tests[0].message
    hang = verify_code("while True: pass", ["assert True"], timeout=0.3)
    assert hang.tests[0].status == "timeout"
    # a test that disables the alarm is still stopped by the wall-clock kill of the process
    stubborn = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True: pass"
    res = verify_code(ADD, ["assert add(1, 1) == 2", stubborn], timeout=0.3)
    assert [t.status for t in res.tests] == ["pass", "timeout"]


def test_code_runs_in_a_temporary_directory_that_is_removed() -> None:
    code = "import os\nHERE = os.getcwd()\nopen('junk.txt', 'w').write('x')\n"
    res = verify_code(
        code,
        ["assert os.path.exists('junk.txt')", "assert 'preflab-verify-' in HERE", "print(HERE)"],
    )
    assert res.passed
    probe = verify_code(code, ["raise ValueError(HERE)"])
    where = probe.tests[0].message.split("ValueError: ")[1]
    assert not Path(where).exists()
    # the tests are not on disk for the candidate to read
    peek = verify_code("import os\nFILES = os.listdir('.')", ["assert 'spec.json' not in FILES"])
    assert peek.passed


def test_math_equivalences() -> None:
    assert extract_answer("so the area is \\boxed{\\frac{3}{4}}.") == "\\frac{3}{4}"
    assert extract_answer("nested \\boxed{\\sqrt{\\frac{1}{2}}} end") == "\\sqrt{\\frac{1}{2}}"
    assert extract_answer("The final answer is 42.") == "42"
    for a, b in [
        ("\\frac{1}{2}", "0.5"),
        ("\\dfrac12", "1/2"),
        ("\\sqrt{8}", "2\\sqrt{2}"),
        ("x = 3", "3"),
        ("50\\%", "0.5"),
        ("1,000", "1000"),
        ("\\pi/2", "\\frac{\\pi}{2}"),
        ("90^\\circ", "90"),
        ("[1, 3)", "[1,3)"),
        ("\\{1, 2\\}", "\\{2,1\\}"),
        ("\\text{(B)}", "(B)"),
        ("2x+1", "1+2x"),
    ]:
        assert answers_equivalent(a, b), (a, b)
    for a, b in [("2", "3"), ("(1, 2)", "(2,1)"), ("[1, 3)", "(1,3)"), ("x+1", "x-1")]:
        assert not answers_equivalent(a, b), (a, b)
    assert verify_math("I don't know", "3").status == "no_answer"
    assert verify_math("Thus \\boxed{7}", "The answer is $\\boxed{7}$").status == "correct"
    assert verify_math("Thus \\boxed{8}", "7").score == 0.0


def test_math_agrees_with_prm800k_grader(shared_data: Path) -> None:
    """PRM800K's own grader (grade_answer) on the labelled test solutions is the peer."""
    s = pd.read_parquet(
        shared_data / "prm800k" / "solutions.parquet",
        columns=["final_answer", "ground_truth_answer", "final_answer_graded_correct"],
    )
    s = s[s.ground_truth_answer.notna() & s.final_answer.notna()]
    assert len(s) == 90
    mine = [
        answers_equivalent(a, b) for a, b in zip(s.final_answer, s.ground_truth_answer, strict=True)
    ]
    agree = sum(m == g for m, g in zip(mine, s.final_answer_graded_correct, strict=True))
    assert agree == 90


def test_run_verifier_scores_and_pairs() -> None:
    rows = [
        {
            "prompt_id": "p1",
            "model": "good",
            "response": ADD,
            "tests": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"],
        },
        {
            "prompt_id": "p1",
            "model": "half",
            "response": "def add(a, b):\n    return a + b + a*b",
            "tests": '["assert add(1, 2) == 3", "assert add(0, 0) == 0"]',
        },
        {
            "prompt_id": "p1",
            "model": "bad",
            "response": "def add(a, b):\n    return 0",
            "tests": ["assert add(1, 2) == 3", "assert add(1, 0) == 1"],
        },
    ]
    run = run_verifier(rows, "code", timeout=2.0)
    scores = dict(
        zip(
            run.scores.column("model").to_pylist(),
            run.scores.column("score").to_pylist(),
            strict=True,
        )
    )
    assert scores == {"good": 1.0, "half": 0.5, "bad": 0.0}
    assert set(run.scores.column("judge").to_pylist()) == {"verifier:code"}
    pairs = {(r["model_a"], r["model_b"]): r["winner"] for r in run.comparisons.to_pylist()}
    assert pairs == {
        ("bad", "good"): "model_b",
        ("bad", "half"): "model_b",
        ("good", "half"): "model_a",
    }
    math_rows = [
        {"prompt_id": "q", "model": m, "response": r, "reference": "\\frac{1}{2}"}
        for m, r in (("a", "\\boxed{0.5}"), ("b", "\\boxed{1/3}"), ("c", "\\boxed{2/4}"))
    ]
    mrun = run_verifier(math_rows, "math")
    assert mrun.scores.column("score").to_pylist() == [1.0, 0.0, 1.0]
    assert mrun.comparisons.num_rows == 2  # a and c both beat b; a vs c is a tie, skipped
    assert scores_to_pairs(mrun.scores, ties=True).num_rows == 3


def test_run_verifier_names_missing_fields() -> None:
    from preflab._errors import DataError

    with pytest.raises(DataError, match="row 0.*tests"):
        run_verifier([{"prompt_id": "p", "model": "m", "response": "x"}], "code")
