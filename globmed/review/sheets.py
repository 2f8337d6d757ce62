"""Review sheets: what experts fill in, and reading them back.

One sheet per dataset x language, as `<dataset>.<language>.csv` and `<dataset>.<language>.xlsx` (the
same content; fill in either). One row per item (wide layout):

    item, id, dataset, language, topic, topic_terms, similarity, source, translation,
    reviewer1_accuracy, reviewer1_fluency, reviewer1_completeness, reviewer1_comment,
    reviewer2_accuracy, ..., reviewer2_comment   (one group per reviewer; at least two)

Scores are whole numbers from 1 (worst) to 5 (best). A reviewer who scores an item scores all three
scales; a reviewer may leave an item out entirely, but every item needs at least two reviewers.
Rows are numbered as a spreadsheet shows them (the header is row 1).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..errors import GlobmedError
from . import SCALES

BASE_COLUMNS = ("item", "id", "dataset", "language", "topic", "topic_terms", "similarity", "source", "translation")
_REVIEWER = re.compile(r"^reviewer(\d+)_(accuracy|fluency|completeness|comment)$")
GUIDE = [
    ("accuracy", "Is the meaning of the source kept exactly? 5 = fully faithful, no mistranslation, omission or "
                 "addition; 1 = the meaning is wrong or largely lost."),
    ("fluency", "Does it read as natural, correct text a medical professional would write in this language? "
                "5 = native-like; 1 = hard to understand."),
    ("completeness", "Is everything translated (every option, number, unit, term)? 5 = complete; 1 = large parts "
                     "missing or left untranslated."),
    ("scores", "Whole numbers 1-5. Fill in all three scales for every item you review; at least two reviewers "
               "per item. Use the comment column for anything an editor should fix."),
]


def reviewer_columns(n: int) -> list[str]:
    return [f"reviewer{r}_{s}" for r in range(1, n + 1) for s in (*SCALES, "comment")]


def format_item(fields: dict[str, Any]) -> str:
    """A record's text fields as one readable cell."""
    parts = []
    if fields.get("context"):
        parts.append(f"Context: {fields['context']}")
    if fields.get("premise") is not None:
        parts.append(f"Premise: {fields.get('premise') or ''}")
        parts.append(f"Hypothesis: {fields.get('hypothesis') or ''}")
    if fields.get("question"):
        parts.append(f"Question: {fields['question']}")
    options = fields.get("options")
    if isinstance(options, list):
        parts.extend(f"{'ABCDEFGHIJ'[i]}. {o}" for i, o in enumerate(options) if i < 10)
    if fields.get("answer") and "premise" not in fields and not isinstance(options, list):
        parts.append(f"Answer: {fields['answer']}")
    if fields.get("explanation"):
        parts.append(f"Explanation: {fields['explanation']}")
    return "\n".join(parts)


def write_sheet(folder: Path, name: str, rows: list[dict[str, Any]], reviewers: int, title: str) -> list[Path]:
    """`name`.csv and `name`.xlsx in `folder`; returns both paths."""
    columns = list(BASE_COLUMNS) + reviewer_columns(reviewers)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = folder / f"{name}.csv", folder / f"{name}.xlsx"
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    _write_xlsx(xlsx_path, columns, rows, title)
    return [csv_path, xlsx_path]


def _write_xlsx(path: Path, columns: list[str], rows: list[dict[str, Any]], title: str) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "review"
    ws.append(columns)
    for row in rows:
        ws.append([row.get(c, "") if row.get(c) is not None else "" for c in columns])
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="FFF2CC")
    for cell in ws[1]:
        cell.font = bold
    widths = {"source": 60, "translation": 60, "topic_terms": 24, "id": 28}
    for i, col in enumerate(columns, 1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = widths.get(col, 14 if col.startswith("reviewer") else 10)
        if col in ("source", "translation", "topic_terms") or col.endswith("_comment"):
            for cell in ws[letter][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    score_cols = [get_column_letter(i) for i, c in enumerate(columns, 1) if _REVIEWER.match(c) and not c.endswith("_comment")]
    if rows and score_cols:
        dv = DataValidation(type="whole", operator="between", formula1="1", formula2="5", allow_blank=True,
                            showErrorMessage=True, errorTitle="Score 1-5", error="Enter a whole number from 1 to 5.")
        for letter in score_cols:
            dv.add(f"{letter}2:{letter}{len(rows) + 1}")
            for cell in ws[letter][1:]:
                cell.fill = fill
        ws.add_data_validation(dv)
    ws.freeze_panes = "C2"
    guide = wb.create_sheet("guide")
    guide.append([title])
    guide["A1"].font = bold
    for scale, text in GUIDE:
        guide.append([scale, text])
    guide.column_dimensions["A"].width = 14
    guide.column_dimensions["B"].width = 110
    wb.save(path)


# ---------------------------------------------------------------------------------------------
# Reading filled sheets
# ---------------------------------------------------------------------------------------------
@dataclass
class Sheet:
    path: Path
    columns: list[str]
    rows: list[tuple[int, dict[str, Any]]]  # (spreadsheet row number, cells by column)

    @property
    def name(self) -> str:
        return self.path.name

    def letter(self, column: str) -> str:
        from openpyxl.utils import get_column_letter

        return get_column_letter(self.columns.index(column) + 1) if column in self.columns else "?"


def read_sheet(path: Path) -> Sheet:
    path = Path(path)
    if path.suffix.lower() == ".csv":
        try:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                table = list(csv.reader(fh))
        except UnicodeDecodeError:
            raise GlobmedError(f"{path.name}: not valid UTF-8; save the sheet as UTF-8 CSV") from None
    elif path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise GlobmedError(f"{path.name}: cannot read the workbook: {exc}") from None
        ws = wb["review"] if "review" in wb.sheetnames else wb.worksheets[0]
        table = [["" if v is None else v for v in row] for row in ws.iter_rows(values_only=True)]
        wb.close()
    else:
        raise GlobmedError(f"{path}: a review sheet is a .csv or .xlsx file")
    if not table:
        raise GlobmedError(f"{path.name}: the sheet is empty (no header row)")
    columns = [str(c).strip() for c in table[0]]
    rows = []
    for i, values in enumerate(table[1:], 2):
        if all(str(v).strip() == "" for v in values):
            continue
        rows.append((i, {c: (values[j] if j < len(values) else "") for j, c in enumerate(columns) if c}))
    return Sheet(path, columns, rows)


def _has_scores(sheet: Sheet) -> bool:
    cols = [c for c in sheet.columns if _REVIEWER.match(c) and not c.endswith("_comment")]
    return any(str(cells.get(c, "")).strip() for _, cells in sheet.rows for c in cols)


def collect(paths: Iterable[Path]) -> list[Sheet]:
    """The sheets to score: files as given; in folders, each sheet's filled copy (CSV or XLSX)."""
    sheets: list[Sheet] = []
    for p in map(Path, paths):
        if p.is_dir():
            stems: dict[str, list[Path]] = {}
            for f in sorted(list(p.glob("*.csv")) + list(p.glob("*.xlsx"))):
                if not f.name.startswith(("~$", ".")):
                    stems.setdefault(f.stem, []).append(f)
            if not stems:
                raise GlobmedError(f"{p}: no review sheets (.csv/.xlsx) in this folder")
            for _stem, files in sorted(stems.items()):
                read = [read_sheet(f) for f in files]
                filled = [s for s in read if _has_scores(s)]
                if len(filled) > 1:
                    raise GlobmedError(f"{p}: both {' and '.join(s.name for s in filled)} hold scores; give the one "
                                       "to use as a file argument")
                sheets.append(filled[0] if filled else read[0])
        elif p.is_file():
            sheets.append(read_sheet(p))
        else:
            raise GlobmedError(f"{p}: no such file or folder")
    return sheets
