"""One render per event: the layout worded inside each entry's program, to the very same text."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.events import CaseStateEvent
from bridge.templates import load_registry
from bridge.templates.environment import TIMEZONE_VARIABLE, template_environment
from bridge.templates.registry import (
    _PROGRAM_TEXT,
    TemplateRegistry,
    TemplateSet,
    _program,
    build_registry,
)
from bridge.templates.samples import Variant, entry_names, sample_event
from bridge.templates.variables import message_variables
from bridge.wording import MAX_TEXT_LENGTH, MessageContext, clip

CONTEXT = MessageContext(
    lookup_url_template="https://dichvucong.thanhhoa.gov.vn/tra-cuu-ho-so?ma={case_code}",
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
    signature="Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa",
)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "templates"


def tidy(text: str) -> str:
    return unicodedata.normalize(
        "NFC", "\n".join(line.rstrip() for line in text.strip().splitlines())
    )


def separately(template_set: TemplateSet, event: CaseStateEvent) -> tuple[str, bool]:
    """The text as bridge worded it before (the program's pieces, then the layout on its own),
    and whether it was too long with the whole headline."""
    entry = template_set.entry_for(event)
    assert entry is not None
    assert template_set.layout is not None
    variables: dict[str, Any] = message_variables(event, CONTEXT)
    variables[TIMEZONE_VARIABLE] = CONTEXT.timezone
    module = entry.program.make_module(variables)
    for name, _snippet in template_set.snippets:
        variables[name] = getattr(module, name)
    headline = str(module.bridge_headline).strip()

    def layout(headline: str) -> str:
        assert template_set.layout is not None
        return tidy(template_set.layout.render({**variables, "headline": headline}))

    text = layout(headline)
    too_long = len(text) > MAX_TEXT_LENGTH
    if too_long:
        text = layout(clip(headline, MAX_TEXT_LENGTH - len(layout(""))))
    return clip(text, MAX_TEXT_LENGTH), too_long


def registries() -> list[tuple[str, TemplateRegistry]]:
    examples = [
        (directory.name, load_registry(directory, label="x", context=CONTEXT))
        for directory in sorted(EXAMPLES.iterdir())
    ]
    return [("package", load_registry(None, label="package", context=CONTEXT)), *examples]


def test_every_entry_of_the_defaults_and_the_examples_words_in_one_render():
    checked = clipped = 0
    for label, registry in registries():
        for code, template_set in [(None, registry.common), *registry.procedures.items()]:
            for name in entry_names():
                entry = template_set.entries.get(name)
                if entry is None:
                    continue
                assert entry.worded, (label, code, name)
                for variant in Variant:
                    event = sample_event(name, variant, procedure_code=code)
                    rendered = template_set.render(event, CONTEXT)
                    assert rendered is not None
                    text, too_long = separately(template_set, event)
                    assert rendered.text == text, (label, code, name, variant)
                    checked += 1
                    clipped += too_long
    assert checked > 100
    assert clipped > 0  # the too-long path (the layout rendered on its own) was compared too


# Layouts built from the pieces a province writes: text and blank lines, indented block tags,
# the headline, snippets and variables, conditions, loops, assignments, trailing whitespace.
PIECES = st.sampled_from(
    [
        "Kính gửi Ông/Bà,",
        "{{ headline }}",
        "{{ signature }}",
        "{{ chao }}",
        "\n",
        "\n\n",
        "  ",
        "\t",
        " • Mã hồ sơ: {{ case.code }}",
        "{% if kind %}A{% endif %}",
        "  {% if case.code %}\n",
        "{% if not headline %}trống{% else %}có{% endif %}",
        "{% endif %}",
        "\n  {% endif %}\n",
        "{% for c in 'ab' %}{{ c }}\n{% endfor %}",
        "{% set x = 'đặt' %}{{ x }}",
        "{%- if true %} sát {% endif -%}",
        "{{ '  ' }}",
        "{{ none_value }}",
    ]
)


def balanced(pieces: list[str]) -> str:
    """Drop ``{% endif %}`` pieces without an open ``{% if case.code %}``; close the rest."""
    out: list[str] = []
    opened = 0
    for piece in pieces:
        if piece.strip() == "{% endif %}":
            if opened == 0:
                continue
            opened -= 1
        elif piece == "  {% if case.code %}\n":
            opened += 1
        out.append(piece)
    return "".join(out) + "{% endif %}" * opened


@given(
    st.lists(PIECES, max_size=14).map(balanced),
    st.sampled_from(["  Hồ sơ đã tiếp nhận.  ", "\nHồ sơ\n", "", "{{ chao }} bạn"]),
)
def test_a_layout_inside_the_program_gives_the_text_of_its_own_render(layout, headline):
    environment = template_environment()
    snippets = {"chao": "  Xin chào  "}
    data = {"ma_ho_so": "{{ case.code }}"}
    variables = {
        "case": {"code": "H56.12-260310-0042"},
        "kind": None,
        "signature": "Trung tâm",
        "none_value": None,
    }
    module = environment.from_string(_program(snippets, headline, data, layout)).make_module(
        dict(variables)
    )
    alone = environment.from_string(_program(snippets, headline, data)).make_module(dict(variables))
    stripped = str(alone.bridge_headline).strip()
    expected = environment.from_string(layout).render(
        {**variables, "chao": alone.chao, "headline": stripped}
    )
    assert tidy(str(getattr(module, _PROGRAM_TEXT))) == tidy(expected)
    assert module.bridge_data_0 == alone.bridge_data_0 == "H56.12-260310-0042"


def test_a_layout_that_only_compiles_on_its_own_is_rendered_on_its_own(tmp_path):
    """``extends`` cannot sit inside the program: the entries fall back, reported only once."""
    (tmp_path / "messages.yaml").write_text(
        "base: package\nlayout: '{% extends \"x\" %}{{ headline }}'\n", encoding="utf-8"
    )
    registry, problems = build_registry(tmp_path, label="x")
    assert registry.common.entries
    assert not any(entry.worded for entry in registry.common.entries.values())
    assert problems == []


@pytest.mark.parametrize("name", ["states.RECEIVED", "events.PAYMENT_COMPLETED"])
def test_the_card_and_template_data_are_unchanged_by_the_layout_in_the_program(name):
    registry = load_registry(None, label="package", context=CONTEXT)
    event = sample_event(name)
    rendered = registry.render(event, CONTEXT)
    assert rendered is not None
    entry = registry.common.entries[name]
    assert dict(rendered.template_data) == {
        param: unicodedata.normalize(
            "NFC",
            template.render(
                {**message_variables(event, CONTEXT), TIMEZONE_VARIABLE: CONTEXT.timezone}
            ),
        )
        for param, template in entry.template_data.items()
    }
