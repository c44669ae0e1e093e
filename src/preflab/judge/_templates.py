"""Judge prompt templates: built-in ones and user templates read from TOML files.

A template is a system message and a user message with ``{placeholder}`` fields. Only the
known fields are substituted (``prompt``, ``response``, ``response_a``, ``response_b``,
``reference``); every other brace is left as written, so templates may contain JSON or code.

Built-in templates (wording ours, structure and scales from the sources):

- ``arena-hard``, ``arena-hard-reference``: pairwise, the five-point verdict scale
  ``[[A>>B]]`` ... ``[[B>>A]]`` of Arena-Hard-Auto [Li24]_, judged in both orders by the runner;
- ``ice-usefulness[-ref][-steps]`` and ``ice-correctness[-ref][-steps]``: ICE-Score's code
  rubrics, 0..4, G-Eval layout, with/without a reference and with/without zero-shot
  step-by-step evaluation [Zhuo24]_;
- ``prometheus``, ``prometheus-ref``: a Prometheus-style absolute 1..5 rubric with feedback
  then ``[RESULT] k`` [Kim24]_.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from preflab._errors import DataError
from preflab.judge._toml import TOMLDecodeError, toml_loads

FIELDS = ("prompt", "response", "response_a", "response_b", "reference")
_FIELD_RE = re.compile(r"\{(" + "|".join(FIELDS) + r")\}")


@dataclass(frozen=True, slots=True)
class Template:
    """A judge prompt. ``kind`` is ``pairwise`` (fills ``response_a``/``response_b``) or
    ``pointwise`` (fills ``response``); ``parser`` names the default reply parser."""

    name: str
    kind: Literal["pairwise", "pointwise"]
    system: str
    user: str
    parser: str
    aspect: str = "overall"

    @property
    def needs_reference(self) -> bool:
        """Whether the template has a ``{reference}`` field."""
        return "{reference}" in self.system or "{reference}" in self.user

    def render(self, **values: str) -> list[dict[str, str]]:
        """Chat messages with the fields filled in (missing fields raise ``KeyError``)."""

        def fill(text: str) -> str:
            return _FIELD_RE.sub(lambda m: values[m.group(1)], text)

        msgs = [{"role": "system", "content": fill(self.system)}] if self.system else []
        return [*msgs, {"role": "user", "content": fill(self.user)}]


_AH_SYSTEM = """You are an impartial judge. You will compare two AI assistant answers to the user \
prompt shown below and decide which one is better.
{ref_instruction}Before you decide, work out your own answer to the prompt. Then check both \
assistants' answers against it: point out mistakes and inaccurate statements and correct them.
Judge whether each answer is helpful (it does what the prompt asks; when the prompt is \
ambiguous, asking for clarification beats guessing), relevant (every part addresses the prompt) \
and concise (clear, not wordy). Consider creativity where it matters, and note important \
information that an answer leaves out.
When you are done, give exactly one final verdict label from this list:
1. Assistant A is significantly better: [[A>>B]]
2. Assistant A is slightly better: [[A>B]]
3. Tie, relatively the same: [[A=B]]
4. Assistant B is slightly better: [[B>A]]
5. Assistant B is significantly better: [[B>>A]]
End with, for example: "My final verdict is: [[A>B]]"."""

_AH_USER = """<|User Prompt|>
{prompt}
{ref_block}
<|The Start of Assistant A's Answer|>
{response_a}
<|The End of Assistant A's Answer|>

<|The Start of Assistant B's Answer|>
{response_b}
<|The End of Assistant B's Answer|>"""


def _arena_hard(reference: bool) -> Template:
    ref_instruction = (
        "A reference answer is provided; use it to check correctness.\n" if reference else ""
    )
    ref_block = (
        "\n<|The Start of Reference Answer|>\n{reference}\n<|The End of Reference Answer|>\n"
        if reference
        else ""
    )
    return Template(
        name="arena-hard-reference" if reference else "arena-hard",
        kind="pairwise",
        system=_AH_SYSTEM.replace("{ref_instruction}", ref_instruction),
        user=_AH_USER.replace("{ref_block}", ref_block),
        parser="arena-hard",
    )


# ICE-Score rubric definitions (semantics of the paper's 0..4 scales) ---------------------
_ICE_ASPECTS = {
    "usefulness": (
        "Usefulness (0-4): how useful the code snippet is for solving the problem, judged by "
        "how much work a developer would still need to turn it into a correct solution.\n"
        "- 0: the snippet is of no help at all; it is irrelevant to the problem.\n"
        "- 1: the snippet is barely helpful; it contains something relevant, but writing the "
        "solution from scratch would be easier.\n"
        "- 2: the snippet is partly helpful; it needs substantial changes before it solves the "
        "problem.\n"
        "- 3: the snippet is helpful; it needs only small changes to solve the problem.\n"
        "- 4: the snippet is very helpful; it solves the problem as it is.",
        "Usefulness",
    ),
    "correctness": (
        "Functional Correctness (0-4): how likely the code snippet is to behave correctly, "
        "judged as if it were run against every possible test of the problem.\n"
        "- 0: the snippet would fail all possible tests; it does not solve the problem.\n"
        "- 1: the snippet would pass few tests; it is mostly wrong.\n"
        "- 2: the snippet would pass some tests; it is partly right.\n"
        "- 3: the snippet would pass most tests; it has minor mistakes.\n"
        "- 4: the snippet would pass all possible tests; it solves the problem correctly.",
        "Functional Correctness",
    ),
}


def _ice(aspect: str, reference: bool, steps: bool) -> Template:
    criteria, title = _ICE_ASPECTS[aspect]
    ref_line = (
        "You are also given a reference solution; use it to understand what a correct "
        "answer looks like, but a different correct approach is fine.\n"
        if reference
        else ""
    )
    user = (
        f"You will see a programming problem and a code snippet written to solve it. Rate the "
        f"snippet on a single metric.\n{ref_line}Read these instructions carefully and keep them "
        f"at hand while you read the snippet.\n\nEvaluation Criteria:\n{criteria}\n\n"
        "Evaluation Steps:\n"
        "1. Read the problem and work out what functionality it asks for.\n"
        "2. Read the code snippet and compare it with the problem: does it implement the "
        "required functionality, and how well?\n"
        f"3. Give a {title} score from 0 to 4.\n\n"
        "Problem:\n\n{prompt}\n\n"
        + ("Reference Code:\n\n{reference}\n\n" if reference else "")
        + "Code Snippet:\n\n{response}\n\n"
        + (
            f"Evaluation Form:\n{title}:\nStep-by-step Evaluation:"
            if steps
            else f"Evaluation Form:\n{title} (scores ONLY):"
        )
    )
    name = f"ice-{aspect}" + ("-ref" if reference else "") + ("-steps" if steps else "")
    return Template(
        name=name, kind="pointwise", system="", user=user, parser="score-0-4", aspect=aspect
    )


_PROMETHEUS_USER = """###Task Description:
You are given an instruction, a response to evaluate,{ref_intro} and a score rubric for the \
quality of the response.
1. Write feedback that assesses the response strictly against the score rubric, not in general.
2. Then give a score, an integer from 1 to 5, according to the rubric.
3. Answer in the form "Feedback: (your feedback) [RESULT] (an integer from 1 to 5)".
4. Write nothing before "Feedback:" and nothing after the score.

###The instruction to evaluate:
{prompt}

###Response to evaluate:
{response}
{ref_block}
###Score Rubric:
[Does the response fulfil the instruction helpfully, correctly and completely?]
Score 1: The response ignores the instruction or is wrong in substance.
Score 2: The response addresses the instruction but has major errors or omissions.
Score 3: The response is partly correct and useful but misses important points.
Score 4: The response is correct and useful with minor shortcomings.
Score 5: The response is correct, complete and as useful as it could be.

###Feedback:"""


def _prometheus(reference: bool) -> Template:
    user = _PROMETHEUS_USER.replace(
        "{ref_intro}", " a reference answer that would score 5," if reference else ""
    ).replace("{ref_block}", "\n###Reference Answer (Score 5):\n{reference}\n" if reference else "")
    return Template(
        name="prometheus-ref" if reference else "prometheus",
        kind="pointwise",
        system="You are a fair judge assistant that assesses responses against a score rubric.",
        user=user,
        parser="prometheus",
        aspect="overall",
    )


def _builtins() -> dict[str, Template]:
    out = {
        t.name: t
        for t in (_arena_hard(False), _arena_hard(True), _prometheus(False), _prometheus(True))
    }
    for aspect in _ICE_ASPECTS:
        for ref in (False, True):
            for steps in (False, True):
                t = _ice(aspect, ref, steps)
                out[t.name] = t
    return out


BUILTIN_TEMPLATES: dict[str, Template] = _builtins()
"""Built-in templates by name."""

REFERENCE_TEMPLATE = Template(
    name="reference-answer",
    kind="pointwise",
    system="",
    user="Answer the following prompt as well as you can.\n\n{prompt}",
    parser="none",
)
"""The prompt used to generate a reference answer before judging (``reference = "generate"``)."""


def load_template(source: str | Path, *, base: Path | None = None) -> Template:
    """A built-in template by name, or a user template from a TOML file.

    The TOML file has ``name``, ``kind`` (``pairwise``/``pointwise``), ``user``, and optionally
    ``system``, ``parser`` (default ``arena-hard`` for pairwise, ``score-1-5`` for pointwise)
    and ``aspect``. Relative paths are taken relative to ``base`` (the judge file's folder).
    """
    name = str(source)
    if name in BUILTIN_TEMPLATES:
        return BUILTIN_TEMPLATES[name]
    path = Path(name)
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.exists():
        raise DataError(
            f"template {name!r} is neither built in nor a file",
            path=str(path),
            fix=f"Use one of {', '.join(sorted(BUILTIN_TEMPLATES))} or a .toml file.",
        )
    try:
        data = toml_loads(path.read_text(encoding="utf-8"))
    except TOMLDecodeError as exc:
        raise DataError(f"invalid TOML: {exc}", path=str(path), fix="Fix the TOML syntax.") from exc
    return template_from_dict(data, path=str(path))


def template_from_dict(data: dict[str, object], *, path: str | None = None) -> Template:
    """Validate a template given as a mapping (from TOML or Python)."""
    kind = data.get("kind", "pairwise")
    if kind not in ("pairwise", "pointwise"):
        raise DataError(
            f"kind {kind!r} is not 'pairwise' or 'pointwise'",
            path=path,
            field="kind",
            fix='Set kind = "pairwise" or kind = "pointwise".',
        )
    user = data.get("user")
    if not isinstance(user, str) or not user.strip():
        raise DataError(
            "the template has no user message",
            path=path,
            field="user",
            fix='Add user = """...{prompt}...""" to the template.',
        )
    text = user + str(data.get("system", ""))
    if kind == "pairwise":
        for n in ("{response_a}", "{response_b}"):
            if n not in text:
                raise DataError(
                    f"a pairwise template must contain {n}",
                    path=path,
                    field="user",
                    fix=f"Put {n} where the response text goes.",
                )
    elif "{response}" not in text and "{prompt}" not in text:
        # a pointwise template grades a response, or the prompt itself (BenchBuilder's
        # quality criteria grade prompts)
        raise DataError(
            "a pointwise template must contain {response} (or {prompt} to grade prompts)",
            path=path,
            field="user",
            fix="Put {response} where the response text goes, or {prompt} for the prompt.",
        )
    default_parser = "arena-hard" if kind == "pairwise" else "score-1-5"
    return Template(
        name=str(data.get("name", Path(path).stem if path else "custom")),
        kind=kind,
        system=str(data.get("system", "")),
        user=user,
        parser=str(data.get("parser", default_parser)),
        aspect=str(data.get("aspect", "overall")),
    )
