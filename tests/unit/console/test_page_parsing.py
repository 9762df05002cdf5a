"""What the admin pages read from a service's refusal or from a field: an XLSForm's problems by
sheet, row and column; a village import's by row and column; area codes typed in a text area."""

from __future__ import annotations

from server.console.views.admin_areas import import_problems
from server.console.views.admin_forms import SheetProblem, sheet_problems
from server.console.views.admin_users import area_codes
from server.errors import Problem


def test_an_xlsforms_problems_are_read_by_sheet_row_and_column_in_workbook_order():
    problem = Problem("form.invalid", errors=[
        {"path": "choices/row 4/name", "code": "x", "message": "trùng tên"},
        {"path": "survey/row 12/constraint", "code": "x", "message": "không đọc được"},
        {"path": "settings", "code": "x", "message": "thiếu version"},
        {"path": "survey/row 3", "code": "x", "message": "loại lạ"},
        {"path": "", "code": "x", "message": "cả tệp"},
    ])
    assert sheet_problems(problem) == [
        SheetProblem("survey", 3, None, "loại lạ"),
        SheetProblem("survey", 12, "constraint", "không đọc được"),
        SheetProblem("choices", 4, "name", "trùng tên"),
        SheetProblem("settings", None, None, "thiếu version"),
        SheetProblem("settings", None, None, "cả tệp"),
    ]


def test_a_village_imports_problems_are_read_by_row_and_column():
    problem = Problem("request.invalid", errors=[
        {"path": "rows/3/code", "code": "invalid", "message": "a"},
        {"path": "rows/7", "code": "columns", "message": "b"},
        {"path": "file", "code": "too_many_errors", "message": "c"},
    ])
    assert import_problems(problem) == [{"row": 3, "column": "code", "message": "a"},
                                        {"row": 7, "column": None, "message": "b"},
                                        {"row": None, "column": None, "message": "c"}]


def test_area_codes_are_typed_one_a_line_or_separated_by_commas():
    assert area_codes("01-00004, 01-00008\n01-00004-t01 ;01") == ["01-00004", "01-00008", "01-00004-t01", "01"]
    assert area_codes("  \n ") == []
