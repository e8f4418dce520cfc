"""The template registry: defaults, province and procedure overrides, versions, validation."""

from __future__ import annotations

import os
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from jinja2.exceptions import SecurityError
from typer.testing import CliRunner

from bridge.cli.main import cli
from bridge.delivery.deliverer import MessageRenderer
from bridge.errors import ConfigurationError, TemplateError
from bridge.events import CaseState, CaseStateEvent
from bridge.settings import load_settings
from bridge.templates import TemplateRenderer, load_registry, render_message
from bridge.templates.environment import template_environment
from bridge.templates.renderer import template_renderer
from bridge.templates.samples import Variant, entry_names, sample_event
from bridge.templates.validation import kind_state_keys
from bridge.wording import MAX_TEXT_LENGTH, MessageContext

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CONTEXT = MessageContext(
    lookup_url_template="https://dichvucong.thanhhoa.gov.vn/tra-cuu-ho-so?ma={case_code}",
    timezone=VN,
    signature="Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa",
)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "templates"
PARAMS = {"ma_ho_so", "ten_thu_tuc", "trang_thai", "ngay_hen_tra", "don_vi_xu_ly", "tra_cuu"}
runner = CliRunner()


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(TemplateError) as caught:
        load_registry(directory, label="thanh-hoa", context=CONTEXT)
    return [str(problem) for problem in caught.value.problems]


def event(make_event, **changes) -> CaseStateEvent:
    return CaseStateEvent.model_validate(make_event(**changes))


@pytest.fixture(scope="module")
def defaults():
    return load_registry(None, label="package", context=CONTEXT)


def kind_state_entries() -> set[str]:
    return {f"states.{key}" for key in kind_state_keys()}


class TestDefaults:
    def test_the_package_defaults_pass_validation(self):
        registry = load_registry(None, label="thanh-hoa", context=CONTEXT)
        assert set(registry.common.entries) == {
            *(f"states.{state.value}" for state in CaseState),
            *kind_state_entries(),
            "events.TRANSFERRED",
            "events.DUE_DATE_CHANGED",
            "events.PAYMENT_COMPLETED",
            "events.SUPPLEMENT_SUBMITTED",
            "events.RESULT_DISPATCHED_BY_POST",
        }

    @pytest.mark.parametrize("variant", list(Variant))
    @pytest.mark.parametrize("name", entry_names())
    def test_every_default_template_renders_within_zalos_limits(self, defaults, name, variant):
        registry = defaults
        rendered = registry.render(sample_event(name, variant), CONTEXT)
        if name in registry.common.entries:
            assert rendered is not None
            assert rendered.text.startswith("Kính gửi Ông/Bà,\n")
            assert unicodedata.is_normalized("NFC", rendered.text)
            assert len(rendered.text) <= MAX_TEXT_LENGTH
            assert set(rendered.template_data) == PARAMS
            assert len(rendered.template_data["ten_thu_tuc"]) <= 100
            assert rendered.card is not None
            assert rendered.card.buttons[0][0] == "Tra cứu hồ sơ"
            assert rendered.style in {"green", "blue", "yellow", "red", "grey"}
        else:
            assert rendered is None  # internal steps are not citizen news

    def test_the_longest_values_clip_the_headline_not_the_facts(self):
        message = render_message(
            sample_event("states.SUPPLEMENT_REQUESTED", Variant.LONGEST), CONTEXT
        )
        assert message is not None
        assert len(message.text) == MAX_TEXT_LENGTH
        assert "…\n• Mã hồ sơ:" in message.text
        assert message.text.endswith("Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa")

    def test_template_data_tells_the_same_news(self, make_event):
        message = render_message(event(make_event, state="RESULT_READY"), CONTEXT)
        assert message is not None
        assert dict(message.template_data) == {
            "ma_ho_so": "000.20.31.H56-260310-0042",
            "ten_thu_tuc": "Đăng ký thành lập hộ kinh doanh",
            "trang_thai": "Đã xử lý xong",
            "ngay_hen_tra": "13/03/2026",
            "don_vi_xu_ly": "Phòng Kinh tế",
            "tra_cuu": "https://dichvucong.thanhhoa.gov.vn/tra-cuu-ho-so?ma=000.20.31.H56-260310-0042",
        }

    def test_the_renderer_is_the_delivery_use_cases_port(self, make_event):
        renderer: MessageRenderer = TemplateRenderer(
            load_registry(None, label="thanh-hoa", context=CONTEXT), CONTEXT
        )
        message = renderer.render(event(make_event))
        assert message == render_message(event(make_event), CONTEXT)
        # Without a province directory the wording is the package's, and so is the version.
        assert message.template_version.startswith("package:states.RECEIVED@")


class TestFilters:
    def render(self, source: str, **variables) -> str:
        template = template_environment().from_string(source)
        return template.render(timezone=VN, **variables)

    def test_date_is_ddmmyyyy_in_vietnam_time(self):
        assert (
            self.render("{{ d|date }}", d=datetime(2026, 3, 13, 20, 0, tzinfo=UTC)) == "14/03/2026"
        )

    def test_datetime_shows_the_hour_in_vietnam_time(self):
        moment = datetime(2026, 3, 13, 2, 5, tzinfo=UTC)
        assert self.render("{{ d|datetime }}", d=moment) == "09:05 13/03/2026"

    @pytest.mark.parametrize(("amount", "shown"), [(0, "0 đ"), (100000, "100.000 đ")])
    def test_money_uses_dots_and_dong(self, amount, shown):
        assert self.render("{{ a|money }}", a=amount) == shown

    def test_money_refuses_what_is_not_a_whole_amount(self):
        with pytest.raises(TypeError):
            self.render("{{ a|money }}", a="100000")

    def test_phrase_drops_final_punctuation_and_clip_adds_an_ellipsis(self):
        assert self.render("{{ r|phrase(100) }}.", r="Thiếu giấy tờ.") == "Thiếu giấy tờ."
        assert self.render("{{ r|clip(5) }}", r="abcdefgh") == "abcd…"

    def test_none_prints_as_nothing(self):
        assert self.render("[{{ x }}]", x=None) == "[]"

    def test_the_sandbox_keeps_templates_away_from_python_internals(self):
        with pytest.raises(SecurityError):
            self.render("{{ ''.__class__.__mro__[1].__subclasses__() }}")


class TestOverrides:
    def test_a_province_overrides_one_state_and_keeps_the_rest(self, make_event, tmp_path):
        write(
            tmp_path,
            "messages.yaml",
            'states:\n  RECEIVED:\n    headline: "Đã nhận {{ case.code }}."\n',
        )
        registry = load_registry(tmp_path, label="thanh-hoa", context=CONTEXT)
        received = registry.render(event(make_event), CONTEXT)
        assert received is not None
        assert "\nĐã nhận 000.20.31.H56-260310-0042.\n• Mã hồ sơ:" in received.text
        in_progress = event(make_event, state="IN_PROGRESS")
        assert (
            registry.render(in_progress, CONTEXT).text == render_message(in_progress, CONTEXT).text
        )

    def test_a_procedure_override_applies_to_that_procedure_only(self, make_event):
        registry = load_registry(EXAMPLES / "thanh-hoa", label="thanh-hoa", context=CONTEXT)
        marriage = event(
            make_event,
            state="RESULT_READY",
            case={"procedure_code": "1.000894", "procedure_name": "Đăng ký kết hôn"},
        )
        business = event(make_event, state="RESULT_READY")
        married = registry.render(marriage, CONTEXT)
        assert "Hai bên nam, nữ vui lòng cùng có mặt" in married.text
        assert married.template_data["trang_thai"] == "Đã có Giấy chứng nhận kết hôn"
        assert married.template_version.startswith("thanh-hoa/1.000894:states.RESULT_READY@")
        assert "Hai bên nam, nữ" not in registry.render(business, CONTEXT).text

    def test_a_province_may_turn_a_sub_event_off(self, make_event, tmp_path):
        write(tmp_path, "messages.yaml", "events:\n  SUPPLEMENT_SUBMITTED: null\n")
        registry = load_registry(tmp_path, label="thanh-hoa", context=CONTEXT)
        assert (
            registry.render(event(make_event, event_type="SUPPLEMENT_SUBMITTED"), CONTEXT) is None
        )

    def test_the_version_changes_with_the_wording_and_only_then(self, make_event, tmp_path):
        def version(headline: str, state: str = "RECEIVED") -> str:
            write(tmp_path, "messages.yaml", f'states:\n  RECEIVED:\n    headline: "{headline}"\n')
            registry = load_registry(tmp_path, label="thanh-hoa", context=CONTEXT)
            return registry.render(event(make_event, state=state), CONTEXT).template_version

        assert version("Đã nhận.") == version("Đã nhận.")
        assert version("Đã nhận.") != version("Đã tiếp nhận.")
        assert version("Đã nhận.", "STOPPED") == version("Đã tiếp nhận.", "STOPPED")

    def test_configmap_bookkeeping_entries_are_ignored(self, tmp_path):
        write(tmp_path / "..2026_03_10", "messages.yaml", "description: x\n")
        (tmp_path / "..data").symlink_to(tmp_path / "..2026_03_10")
        (tmp_path / "messages.yaml").symlink_to(tmp_path / "..data" / "messages.yaml")
        registry = load_registry(tmp_path, label="thanh-hoa", context=CONTEXT)
        assert registry.description == "x"

    def test_the_shipped_examples_are_valid(self):
        for directory in sorted(EXAMPLES.iterdir()):
            load_registry(directory, label=directory.name, context=CONTEXT)


class TestValidation:
    def test_an_unknown_placeholder_names_file_template_and_key(self, tmp_path):
        path = write(
            tmp_path,
            "messages.yaml",
            'states:\n  RECEIVED:\n    headline: "{{ subject }} {{ case.cod }} {{ ten }}"\n',
        )
        assert problems_of(tmp_path) == [
            f"{path}: template states.RECEIVED, key headline: unknown placeholder 'ten'",
            f"{path}: template states.RECEIVED, key headline: unknown placeholder 'case.cod'",
        ]

    def test_an_unknown_filter_or_method_is_caught(self, tmp_path):
        path = write(
            tmp_path,
            "procedure-1.000894.yaml",
            "events:\n  TRANSFERRED:\n"
            '    headline: "{{ case.code.uper() }} {{ case.due_at|ngay }}"\n',
        )
        found = problems_of(tmp_path)
        where = f"{path}: template events.TRANSFERRED, key headline: "
        assert f"{where}unknown placeholder 'case.code.uper'" in found
        assert f"{where}unknown filter 'ngay'" in found

    def test_a_missing_state_names_the_state(self, tmp_path):
        source = Path(__file__).resolve().parents[2] / "src/bridge/templates/defaults/messages.yaml"
        text = source.read_text(encoding="utf-8").replace("base:", "x:")
        text = text.replace("  WITHDRAWAL_REQUESTED:\n", "  WITHDRAWAL_REQUESTED_OLD:\n")
        path = write(tmp_path, "messages.yaml", "base: none\n" + text)
        found = problems_of(tmp_path)
        assert (
            f"{path}: template states.WITHDRAWAL_REQUESTED_OLD, key WITHDRAWAL_REQUESTED_OLD: "
            "unknown state"
        ) in found
        assert any(
            "template states.WITHDRAWAL_REQUESTED, key WITHDRAWAL_REQUESTED: missing state" in p
            for p in found
        )

    def test_a_text_over_2000_characters_for_the_longest_values_is_refused(self, tmp_path):
        path = write(
            tmp_path,
            "messages.yaml",
            "layout: |-\n  {{ headline }}\n  {{ reason }}\n  {{ case.procedure_name }}\n"
            "  {{ case.agency }}\n",
        )
        found = problems_of(tmp_path)
        assert len(found) == 1
        assert found[0].startswith(f"{path}: template layout, key text: text over 2,000 characters")

    def test_wrong_template_data_keys_are_refused(self, tmp_path):
        path = write(
            tmp_path,
            "messages.yaml",
            "states:\n  STOPPED:\n    template_data:\n      ly_do: '{{ reason }}'\n"
            "template_message:\n  params: {ma_ho_so: 40, trang_thai: 50}\n"
            "  data: {ma_ho_so: '{{ case.code }}'}\n",
        )
        found = problems_of(tmp_path)
        assert (
            f"{path}: template states.STOPPED, key template_data.ly_do: unknown key: not a "
            "parameter of the template (ma_ho_so, trang_thai)"
        ) in found
        assert (
            f"{path}: template states.RECEIVED, key template_data.trang_thai: missing key: the "
            "template declares this parameter"
        ) in found

    def test_a_parameter_over_its_maximum_length_is_refused(self, tmp_path):
        path = write(
            tmp_path,
            "messages.yaml",
            "states:\n  STOPPED:\n    template_data:\n"
            "      trang_thai: '{{ reason or state_label }}'\n",
        )
        found = problems_of(tmp_path)
        assert len(found) == 1
        assert found[0].startswith(
            f"{path}: template states.STOPPED, key template_data.trang_thai:"
        )
        assert "over the parameter's maximum of 50" in found[0]

    def test_an_unguarded_optional_value_fails_when_absent(self, tmp_path):
        path = write(
            tmp_path, "messages.yaml", 'states:\n  RECEIVED:\n    headline: "{{ result.note }}"\n'
        )
        found = problems_of(tmp_path)
        assert found == [
            (
                f"{path}: template states.RECEIVED, key headline: fails with realistic values: "
                "'None' has no attribute 'note'"
            )
        ]

    def test_the_sandbox_refuses_escapes_at_validation(self, tmp_path):
        write(
            tmp_path,
            "messages.yaml",
            "states:\n  RECEIVED:\n    headline: \"{{ ''.__class__ }}\"\n",
        )
        (found,) = problems_of(tmp_path)
        assert "key headline: fails with realistic values" in found

    @pytest.mark.parametrize(
        ("name", "text", "expected"),
        [
            ("messages.yaml", "states: [", "template (file), key (yaml): not valid YAML"),
            ("messages.yaml", "headlines: {}\n", "template headlines, key (value): Extra inputs"),
            (
                "messages.yaml",
                "states:\n  RECEIVED:\n    style: pink\n",
                "key style: Input should be",
            ),
            ("messages.yml.bak", "x: 1\n", "template (file), key (name): unexpected file"),
            ("messages.yaml", 'layout: "{% if %}"\n', "template layout, key layout: Expected an"),
        ],
    )
    def test_malformed_files_are_named(self, tmp_path, name, text, expected):
        path = write(tmp_path, name, text)
        found = problems_of(tmp_path)
        assert any(p.startswith(f"{path}: ") and expected in p for p in found), found

    def test_card_rules_are_checked(self, tmp_path):
        write(
            tmp_path,
            "messages.yaml",
            "template_message:\n  params: {ma_ho_so: 40}\n  data: {ma_ho_so: '{{ case.code }}'}\n"
            "  card:\n    title: T\n"
            "    rows: [{key: Mã hồ sơ của công dân đã nộp hồ sơ, param: ma_ho_so},"
            " {key: Trạng thái, param: trang_thai}]\n"
            "    buttons: [{title: Tra cứu, param: tra_cuu}]\n",
        )
        found = " | ".join(problems_of(tmp_path))
        assert "row label longer than 25 characters" in found
        assert "row 'Trạng thái' shows an undeclared parameter" in found
        assert "button 'Tra cứu' opens an undeclared parameter" in found

    def test_zalos_uncertain_card_limits_are_settings(self, tmp_path):
        write(
            tmp_path,
            "messages.yaml",
            "template_message:\n  params: {tra_cuu: 300}\n  data: {tra_cuu: '{{ lookup_url }}'}\n"
            "  card:\n    title: T\n"
            "    buttons: [{title: Tra cứu hồ sơ trực tuyến, param: tra_cuu}]\n",
        )
        strict = load_settings(templates={"directory": str(tmp_path), "card_max_button_title": 10})
        with pytest.raises(TemplateError, match="button title longer than 10 characters"):
            template_renderer(strict, CONTEXT)
        lenient = load_settings(templates={"directory": str(tmp_path)})
        assert template_renderer(lenient, CONTEXT).registry.common.entries

    def test_snippet_and_parameter_names_are_identifiers(self, tmp_path):
        path = write(tmp_path, "messages.yaml", "snippets:\n  tên hồ sơ: x\n")
        (found,) = problems_of(tmp_path)
        assert found.startswith(f"{path}: template snippets, key tên hồ sơ.[key]: String should")

    def test_start_up_fails_with_a_configuration_error(self, tmp_path):
        write(tmp_path, "messages.yaml", 'states:\n  RECEIVED:\n    headline: "{{ nope }}"\n')
        settings = load_settings(templates={"directory": str(tmp_path)})
        with pytest.raises(ConfigurationError, match=r"messages\.yaml: template states\.RECEIVED"):
            template_renderer(settings, CONTEXT)


class TestSettingsAndCommandLine:
    @pytest.fixture(autouse=True)
    def clean_environment(self, monkeypatch):
        for name in list(os.environ):
            if name.startswith(("BRIDGE_", "KAFKA_")):
                monkeypatch.delenv(name)

    def test_the_directory_comes_from_the_environment(self, monkeypatch, tmp_path):
        monkeypatch.setenv("BRIDGE_TEMPLATES__DIRECTORY", str(tmp_path))
        monkeypatch.setenv("BRIDGE_TEMPLATES__PREVIEW_PORT", "0")
        settings = load_settings()
        assert settings.templates.directory == tmp_path
        assert settings.templates.preview_port == 0

    def test_templates_check_accepts_a_valid_directory(self):
        result = runner.invoke(cli, ["templates", "check", str(EXAMPLES / "thanh-hoa")])
        assert result.exit_code == 0, result.output
        # 15 wordings (10 states, 5 event types) and 44 of complaints, denunciations and land
        # disputes, in the common set and the procedure's.
        assert "ok, 118 templates in 2 sets (procedures: 1.000894)" in result.output

    def test_templates_check_names_the_problem_and_exits_1(self, tmp_path):
        path = write(tmp_path, "messages.yaml", 'states:\n  RECEIVED:\n    headline: "{{ ten }}"\n')
        result = runner.invoke(cli, ["templates", "check", str(tmp_path)])
        assert result.exit_code == 1
        assert f"{path}: template states.RECEIVED, key headline: unknown placeholder 'ten'" in (
            result.output
        )

    def test_preview_is_a_command(self):
        result = runner.invoke(cli, ["preview", "--help"])
        assert result.exit_code == 0
        assert "--templates" in result.output
