r"""Math verifier: is a response's final answer equivalent to the reference answer?

1. **Extract** the final answer: the last ``\boxed{...}`` / ``\fbox{...}`` (balanced braces),
   else the text after the last "final answer is" / "answer:", else the last number.
2. **Normalise** LaTeX: vectors ``\begin{pmatrix}..`` become tuples; drop ``$``,
   ``\left``/``\right``, ``\!``, ``\,``, ``\text{..}`` units,
   degrees, ``\dfrac``/``\tfrac`` -> ``\frac``, thousands separators, trailing period.
3. **Compare**: equal strings; else both parsed into sympy (a small LaTeX -> sympy translator:
   ``\frac``, ``\sqrt``, ``\pi``, ``\cdot``, ``^``, implicit multiplication) and equal if
   ``simplify(a - b) == 0`` or numerically within a relative 1e-6; tuples/sets/intervals
   compare element by element (sets unordered); ``a = 3`` compares the right-hand side;
   a percentage equals its fraction (``50\%`` = ``0.5``) as well as its number.

Like math-verify and the MATH/PRM800K graders (Hendrycks et al. 2021; Lightman et al. 2023),
equivalence is mathematical, not textual; an answer that cannot be extracted is
``no_answer``, never "incorrect by default".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from preflab.judge._transport import missing_extra


def _sympy() -> Any:
    try:
        import sympy
    except ImportError as exc:  # pragma: no cover - sympy is in the judge extra
        raise missing_extra("sympy") from exc
    return sympy


@dataclass(frozen=True, slots=True)
class MathResult:
    """Outcome: ``correct``, ``incorrect`` or ``no_answer`` (nothing extractable)."""

    status: Literal["correct", "incorrect", "no_answer"]
    predicted: str | None
    reference: str

    @property
    def score(self) -> float:
        """1.0 when correct, else 0.0."""
        return 1.0 if self.status == "correct" else 0.0


def _braced(text: str, start: int) -> str | None:
    """Content of the brace group opening at ``text[start] == '{'``."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i]
    return None


def extract_answer(text: str) -> str | None:
    """The final answer in ``text`` (see the module docstring), or ``None``."""
    for macro in ("\\boxed", "\\fbox"):
        pos = text.rfind(macro + "{")
        if pos >= 0:
            inner = _braced(text, pos + len(macro))
            if inner is not None:
                return inner.strip()
        m = list(re.finditer(re.escape(macro) + r"\s+([^\s$]+)", text))
        if m:
            return m[-1].group(1)
    m2 = list(re.finditer(r"(?:final answer|answer)\s*(?:is|:)\s*:?\s*(.+)", text, re.I))
    if m2:
        ans = m2[-1].group(1).strip()
        ans = re.split(r"\.(?:\s|$)|\n", ans)[0]
        return ans.strip().strip("$ ").strip() or None
    nums = re.findall(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?", text)
    return nums[-1] if nums else None


def normalize_answer(ans: str) -> str:
    """LaTeX clean-up before comparison (see the module docstring)."""
    s = ans.strip()
    s = re.sub(r"\\begin\{[pb]matrix\}(.*?)\\end\{[pb]matrix\}",
               lambda m: "(" + ",".join(x.strip() for x in re.split(r"\\\\|&", m.group(1))) + ")",
               s, flags=re.S)
    s = re.sub(r"\\text\{\s*([^{}]*)\}", r"\1", s)
    s = re.sub(r"\\(?:mathrm|mathbf|textbf)\{([^{}]*)\}", r"\1", s)
    for a, b in (("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""),
                 ("\\ ", ""), ("$", ""), ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"),
                 ("^{\\circ}", ""), ("^\\circ", ""), ("\\degree", ""), ("\\%", "%"),
                 ("\\displaystyle", ""), ("\\{", "{"), ("\\}", "}")):
        s = s.replace(a, b)
    s = re.sub(r"(\d),(\d{3})(?!\d)", r"\1\2", s)  # 1,000 -> 1000
    s = re.sub(r"\s*(degrees?|units?|cm|meters?|inches|feet|dollars?)\s*$", "", s)
    s = s.strip().rstrip(".").strip()
    if "=" in s and s.count("=") == 1 and not re.search(r"[<>]", s):
        lhs, rhs = s.split("=")
        if re.fullmatch(r"\s*[a-zA-Z]\w*\s*", lhs):
            s = rhs.strip()
    return s


def _latex_to_sympy_text(s: str) -> str:
    prev = None
    while prev != s:
        prev = s
        s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"((\1)/(\2))", s)
        s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"((\1)/(\2))", s)
        s = re.sub(r"\\sqrt\s*\[([^\]]*)\]\s*\{([^{}]*)\}", r"((\2)**(1/(\1)))", s)
        s = re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)", s)
        s = re.sub(r"\\sqrt\s*(\w)", r"sqrt(\1)", s)
        s = re.sub(r"\^\s*\{([^{}]*)\}", r"**(\1)", s)
    for a, b in (("\\pi", "pi"), ("\\cdot", "*"), ("\\times", "*"), ("\\div", "/"),
                 ("\\infty", "oo"), ("\\ln", "log"), ("\\log", "log"), ("\\sin", "sin"),
                 ("\\cos", "cos"), ("\\tan", "tan"), ("{", "("), ("}", ")"), ("^", "**")):
        s = s.replace(a, b)
    return s


def _to_sympy(s: str) -> Any:
    if len(s) > 200 or "\\" in _latex_to_sympy_text(s):
        return None
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    transforms = (*standard_transformations, implicit_multiplication_application, convert_xor)
    text = _latex_to_sympy_text(s)
    pct = text.endswith("%")
    if pct:
        text = text[:-1]
    try:
        expr = parse_expr(text, transformations=transforms, evaluate=True)
    except Exception:  # noqa: BLE001 - sympy raises many kinds of errors on bad input
        return None
    return (expr, expr / 100) if pct else expr


def _equal_expr(a: Any, b: Any) -> bool:
    sympy = _sympy()
    left = a if isinstance(a, tuple) else (a,)
    right = b if isinstance(b, tuple) else (b,)
    for x in left:
        for y in right:
            try:
                if x == y:
                    return True
                d = sympy.simplify(x - y)
                if d == 0:
                    return True
                xv, yv = complex(sympy.N(x)), complex(sympy.N(y))
                if abs(xv - yv) <= 1e-6 * max(1.0, abs(yv)):
                    return True
            except Exception:  # noqa: BLE001, S112
                continue
    return False


def _split_top(s: str) -> tuple[str, list[str]] | None:
    """``(brackets, items)`` for a tuple/set/interval like ``(1, 2]``; None for a scalar."""
    if len(s) >= 2 and s[0] in "([{" and s[-1] in ")]}":
        inner, items, depth, cur = s[1:-1], [], 0, ""
        for ch in inner:
            depth += ch in "([{"
            depth -= ch in ")]}"
            if ch == "," and depth == 0:
                items.append(cur.strip())
                cur = ""
            else:
                cur += ch
        items.append(cur.strip())
        if len(items) > 1:
            return s[0] + s[-1], items
    if "," in s and not re.fullmatch(r"[\d,]+", s):
        return "", [x.strip() for x in s.split(",")]
    return None


def answers_equivalent(predicted: str, reference: str) -> bool:
    """Whether two final answers are mathematically equivalent (see the module docstring)."""
    p, r = normalize_answer(predicted), normalize_answer(reference)
    if p == r or p.replace(" ", "") == r.replace(" ", ""):
        return True
    sp, sr = _split_top(p), _split_top(r)
    if sp is not None or sr is not None:
        if sp is None or sr is None or len(sp[1]) != len(sr[1]):
            return False
        if sp[0] == "{}" or sr[0] == "{}" or (sp[0] == "" and sr[0] == ""):
            rest = list(sr[1])
            for item in sp[1]:
                match = next((j for j, x in enumerate(rest) if answers_equivalent(item, x)), None)
                if match is None:
                    return False
                rest.pop(match)
            return True
        if sp[0] != sr[0]:
            return False
        return all(answers_equivalent(a, b) for a, b in zip(sp[1], sr[1], strict=True))
    a, b = _to_sympy(p), _to_sympy(r)
    if a is None or b is None:
        return False
    return _equal_expr(a, b)


def verify_math(response: str, reference: str, *, extract_reference: bool = True) -> MathResult:
    """Check the final answer of ``response`` against ``reference``.

    ``reference`` may be a bare answer or a worked solution (its final answer is extracted
    when ``extract_reference``).
    """
    ref = (extract_answer(reference) if extract_reference and ("\\boxed" in reference
                                                               or "answer" in reference.lower())
           else None) or reference.strip()
    pred = extract_answer(response)
    if pred is None:
        return MathResult("no_answer", None, ref)
    return MathResult("correct" if answers_equivalent(pred, ref) else "incorrect", pred, ref)
