"""Expression evaluation speed.

Run: ``.venv/bin/python bench/expressions_bench.py``

1. Per-expression cost of typical expressions with a plain dict lookup.
2. A 30-member household: ~60 expressions per member (relevants, constraints,
   calculations, a choice-attr score) evaluated through ``scope.ScopedAnswers`` the way
   answer validation does, plus a few household-level aggregates. Median of repeated runs.

Recorded on the development machine (2 vCPU, Python 3.11, Nov 2026), while other test
suites shared the machine, so figures varied by 2-3x between runs:
    quiet moments:   ${age} >= 18 0.16 µs, ${sex} = 'f' 0.16 µs,
                     if(${age} >= 18, 'adult', 'child') 0.27 µs, selected() 0.35 µs;
                     household (1805 evaluations) median 1.66-1.84 ms, ~0.92 µs each
    load average ~5: household wall median 2.6-6.5 ms, CPU median 1.9-2.7 ms
The household mix is deliberately heavier than a typical form (every member runs date
arithmetic, round(), concat() and choice-attr() twice). Trust the figures of your own run.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from forms.expressions import EvalContext, compile_expression  # noqa: E402
from forms.expressions.scope import ChoiceAttributes, FieldTree  # noqa: E402

TODAY = dt.date(2026, 10, 2)

SIMPLE = [
    "${age} >= 18",
    "${sex} = 'f'",
    ". >= 0 and . <= 120",
    "${age} >= 15 and ${age} < 60 and ${sex} = 'f'",
    "if(${age} >= 18, 'adult', 'child')",
    "selected(${water}, 'tap')",
    "coalesce(${income}, 0) * 12",
    "int((today() - ${dob}) div 365.25)",
    "regex(${phone}, '^0[0-9]{9}$')",
    "sum(${incomes}) div count(${incomes})",
]


def bench_simple() -> None:
    from forms.expressions import Nodeset

    answers = {"age": 41, "sex": "f", "water": ["tap", "rain"], "income": 1500000,
               "dob": dt.date(1985, 3, 15), "phone": "0912345678",
               "incomes": Nodeset([1500000.0, 2000000.0, 0.0])}
    ctx = EvalContext(lookup=answers.get, current=41, today=TODAY)
    print("per-expression evaluation (dict lookup):")
    for source in SIMPLE:
        expr = compile_expression(source)
        fn = expr.evaluate
        number = 200_000
        best = min(timeit.repeat(lambda: fn(ctx), number=number, repeat=5)) / number
        print(f"  {source:<50} {best * 1e6:7.3f} µs")
    compile_time = min(timeit.repeat(
        lambda: _compile_uncached(SIMPLE[4]),
        number=2000, repeat=3)) / 2000
    print(f"  compile (uncached) {SIMPLE[4]!r}: {compile_time * 1e6:.1f} µs")


def _compile_uncached(source: str):
    from forms.expressions.compiler import CompiledExpression, Compiler
    from forms.expressions.parser import parse

    tree = parse(source)
    return CompiledExpression(source, tree, Compiler(source).compile(tree))


FORM = {
    "fields": [
        {"name": "area_type", "type": "select_one", "choices": "area"},
        {"name": "roof", "type": "select_one", "choices": "roof"},
        {"name": "members", "type": "repeat", "fields": [
            {"name": "name", "type": "text"},
            {"name": "age", "type": "integer"},
            {"name": "dob", "type": "date"},
            {"name": "sex", "type": "select_one", "choices": "sex"},
            {"name": "edu", "type": "select_one", "choices": "edu"},
            {"name": "income", "type": "decimal"},
            {"name": "insurance", "type": "select_one", "choices": "yes_no"},
            {"name": "jobs", "type": "select_multiple", "choices": "jobs"},
            {"name": "phone", "type": "text"},
        ]},
    ],
    "choices": {
        "edu": [{"value": "none", "points": {"rural": 4, "urban": 3}},
                {"value": "primary", "points": {"rural": 2, "urban": 2}},
                {"value": "high", "points": {"rural": 0, "urban": 0}}],
        "jobs": [{"value": "farm", "points": 1}, {"value": "trade", "points": 2}],
        "roof": [{"value": "tile", "points": {"rural": 3, "urban": 5}}],
    },
}

MEMBER_EXPRESSIONS = [
    "${age} >= 15", "${age} < 60", "${age} >= 6 and ${age} <= 18", ". >= 0 and . <= 120",
    "${sex} = 'f' and ${age} >= 15 and ${age} <= 49", "string-length(${name}) >= 2",
    "regex(${phone}, '^0[0-9]{9}$')", "${income} >= 0", "${income} < ${param:line}",
    "coalesce(${income}, 0) * 12", "if(${age} >= 18, 'adult', 'child')",
    "int((today() - ${dob}) div 365.25)", "abs(int((today() - ${dob}) div 365.25) - ${age}) <= 1",
    "${dob} <= today()", "selected(${jobs}, 'farm')", "count-selected(${jobs}) <= 3",
    "choice-attr(${edu}, 'points', ${param:region})",
    "sum(choice-attr(${jobs}, 'points'))", "${insurance} = 'yes'", "${insurance} != ''",
    "not(${age} < 6 and selected(${jobs}, 'trade'))", "position(..) = 1 or ${age} < 100",
    "round(${income} div 30, 0)", "concat(${name}, ' (', ${age}, ')')",
    "if(${edu} = 'none', 1, 0) + if(${insurance} = 'no', 1, 0)",
    "${area_type} = 'rural' or ${income} > 0",
    "max(${age}, 0)", "${age} > 0 or ${age} = 0", "${sex} = 'm' or ${sex} = 'f'",
    "${edu} = 'high' and ${age} < 15",
]
HOUSEHOLD_EXPRESSIONS = [
    "count(${members})", "sum(${income})", "max(${age})",
    "sum(choice-attr(${edu}, 'points', ${param:region})) + choice-attr(${roof}, 'points', ${param:region})",
    "count(${members}) >= 1 and count(${members}) <= 30",
]


def household(n: int = 30) -> dict:
    members = []
    for i in range(n):
        members.append({"name": f"Người {i}", "age": 5 + i * 2, "dob": f"{2021 - i * 2}-05-01",
                        "sex": "f" if i % 2 else "m", "edu": ["none", "primary", "high"][i % 3],
                        "income": 1000000 + i * 50000, "insurance": "yes" if i % 3 else "no",
                        "jobs": ["farm"] if i % 2 else ["farm", "trade"], "phone": "0912345678"})
    return {"area_type": "rural", "roof": "tile", "members": members}


def bench_household() -> None:
    tree = FieldTree.from_form(FORM)
    hook = ChoiceAttributes(tree, FORM["choices"])
    params = {"line": 1500000, "region": "rural"}
    answers = household()
    member_exprs = [compile_expression(s) for s in MEMBER_EXPRESSIONS]
    member_exprs = (member_exprs * 2)[:60]
    hh_exprs = [compile_expression(s) for s in HOUSEHOLD_EXPRESSIONS]

    def run() -> int:
        evaluated = 0
        members = answers["members"]
        for i, member in enumerate(members):
            ctx = tree.scope(answers, ("members", i)).context(
                parameters=params, today=TODAY, choice_attr=hook, current=member["age"])
            for expr in member_exprs:
                expr.evaluate(ctx)
            evaluated += len(member_exprs)
        ctx = tree.scope(answers).context(parameters=params, today=TODAY, choice_attr=hook)
        for expr in hh_exprs:
            expr.evaluate(ctx)
        return evaluated + len(hh_exprs)

    count = run()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(400):
        t0, c0 = time.perf_counter(), time.thread_time()
        run()
        c1, t1 = time.thread_time(), time.perf_counter()
        wall.append(t1 - t0)
        cpu.append(c1 - c0)
    med, cpu_med = statistics.median(wall), statistics.median(cpu)
    batches = [statistics.median(wall[i:i + 50]) for i in range(0, len(wall), 50)]
    print(f"household of 30 members, {count} evaluations per run (400 runs):")
    print(f"  wall median {med * 1e3:.3f} ms (best 50-run batch {min(batches) * 1e3:.3f} ms), "
          f"CPU median {cpu_med * 1e3:.3f} ms, {cpu_med / count * 1e6:.3f} µs per expression")


if __name__ == "__main__":
    bench_simple()
    bench_household()
