"""cfn-lint (with SAM's transform) finds nothing in template.yaml, informational checks included."""

from __future__ import annotations

from pathlib import Path

from cfnlint.api import ManualArgs, lint_file

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def test_cfn_lint_reports_no_error_warning_or_informational_finding() -> None:
    # Given: the only ignored check (I3011, DeletionPolicy on stateful resources) is listed with its reason
    # in the template's cfn-lint Metadata: the tables' deletion guard is the DeletionProtection parameter.
    config = ManualArgs(include_checks=["I"], regions=["us-east-1"])
    # When
    matches = lint_file(TEMPLATE, config=config)
    # Then
    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches] == []
