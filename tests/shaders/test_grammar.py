"""The program grammar: distinct, terminating, self-contained programs that mostly pass."""

import re

import numpy as np
import pytest

from shaders.checks import degeneracy
from shaders.classes import check_uniforms
from shaders.grammar import GrammarConfig, generate_program
from shaders.renderer import ShaderCompileError, source_hash

CHECK_SIZE = 32
# Every loop in a program: an integer counter with literal bounds (all inside helpers).
BOUNDED_LOOP = re.compile(r"for \(int (\w+) = -?\d+; \1 <=? -?\d+; \1\+\+\)")


def programs(count, stream=11):
    return [generate_program(np.random.default_rng([stream, i])) for i in range(count)]


def first_try_pass_rate(renderer, batch):
    passed = 0
    for program in batch:
        try:
            image = renderer.render(program.source, CHECK_SIZE, check_uniforms(10.0))
        except ShaderCompileError:
            continue
        passed += degeneracy(image) is None
    return passed / len(batch)


def test_same_stream_same_program():
    a = generate_program(np.random.default_rng(42))
    b = generate_program(np.random.default_rng(42))
    assert a == b
    assert a != generate_program(np.random.default_rng(43))


def test_programs_are_distinct_bounded_and_within_budget():
    batch = programs(1000)
    assert len({source_hash(p.source) for p in batch}) == 1000
    config = GrammarConfig()
    for program in batch:
        assert program.cost <= config.max_cost
        assert "while" not in program.source
        loops = re.findall(r"for \([^)]*\)", program.source)
        assert all(BOUNDED_LOOP.fullmatch(loop) for loop in loops), loops
        assert "u_time" in program.source.split("void main()")[1]  # instances vary with time


def test_cost_budget_is_respected():
    cheap = GrammarConfig(max_cost=2.0)
    for i in range(200):
        assert generate_program(np.random.default_rng(i), cheap).cost <= 2.0


def test_100_programs_compile_and_pass_the_check(renderer):
    assert first_try_pass_rate(renderer, programs(100)) >= 0.95


@pytest.mark.slow
def test_1000_programs_compile_and_pass_the_check(renderer):
    assert first_try_pass_rate(renderer, programs(1000)) >= 0.95
