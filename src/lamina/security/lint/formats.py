"""Render findings as hadolint does: ``tty`` lines, a ``json`` array, or a SARIF 2.1.0 log."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lamina.security.lint.linter import Finding

FORMATS = ("tty", "json", "sarif")
_SARIF_LEVEL = {"error": "error", "warning": "warning"}  # info and style are "note"


def format_findings(findings: Iterable[Finding], output_format: str) -> str:
    """The whole report as text (ends with a newline unless it is empty tty output)."""
    findings = list(findings)
    if output_format == "json":
        return json.dumps([f.as_json() for f in findings], separators=(",", ":"), ensure_ascii=False) + "\n"
    if output_format == "sarif":
        return json.dumps(_sarif(findings), separators=(",", ":"), ensure_ascii=False) + "\n"
    return "".join(f"{f.file}:{f.line} {f.code} {f.level}: {f.message}\n" for f in findings)


def _sarif(findings: list[Finding]) -> dict[str, object]:
    from lamina import __version__

    return {
        "version": "2.1.0",
        "$schema": "http://json.schemastore.org/sarif-2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "lamina-lint",
                        "fullName": "lamina Dockerfile lint (hadolint rules)",
                        "version": __version__,
                        "shortDescription": {
                            "text": "Dockerfile linter with hadolint's DL rules and ShellCheck"
                        },
                    }
                },
                "results": [
                    {
                        "ruleId": f.code,
                        "level": _SARIF_LEVEL.get(f.level, "note"),
                        "message": {"text": f.message},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": f.file},
                                    "region": {
                                        "startLine": f.line,
                                        "endLine": f.line,
                                        "startColumn": 1,
                                        "endColumn": 1,
                                        "sourceLanguage": "dockerfile" if f.code.startswith("DL") else "sh",
                                    },
                                }
                            }
                        ],
                    }
                    for f in findings
                ],
                "defaultSourceLanguage": "dockerfile",
            }
        ],
    }
