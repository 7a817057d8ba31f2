"""``towngrid grids stats|import|export|lookup``."""

import json

import pytest
from django.core.management import call_command

from towngrid.grids.models import GridNode

from .test_geo_fixtures import IN_GROUP, OUTSIDE, TOWN, tiny_fc
from .test_validation import BOWTIE

pytestmark = pytest.mark.django_db


def test_stats_table_and_json(tiny_grid, capsys):
    call_command("grids", "stats", "--root", TOWN)
    out = capsys.readouterr().out
    assert "网格长" in out and "专职网格员" in out and "兼职网格员" in out
    assert "微网格" in out and "居村 2" in out
    call_command("grids", "stats", "--root", TOWN, "--json")
    body = json.loads(capsys.readouterr().out)
    assert [r["nodes"] for r in body["levels"]] == [1, 2, 2, 3, 1]


def test_import_ok_and_dry_run(db, tmp_path, capsys):
    path = tmp_path / "grid.geojson"
    path.write_text(json.dumps(tiny_fc()), encoding="utf-8")
    call_command("grids", "import", str(path), "--dry-run")
    assert "试运行" in capsys.readouterr().out
    assert not GridNode.objects.filter(code__startswith=TOWN).exists()
    call_command("grids", "import", str(path))
    assert "新增 9" in capsys.readouterr().out
    assert GridNode.objects.filter(code__startswith=TOWN).count() == 9


def test_import_errors_exit_1_and_list_each(db, tmp_path, capsys):
    fc = tiny_fc()
    fc["features"][8]["geometry"] = BOWTIE
    fc["features"].append(json.loads(json.dumps(fc["features"][6])))
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        call_command("grids", "import", str(path))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "要素 #8" in err and "自相交" in err
    assert "要素 #9" in err and "编码重复" in err
    assert not GridNode.objects.filter(code__startswith=TOWN).exists()


def test_export(tiny_grid, tmp_path):
    out = tmp_path / "out.geojson"
    call_command("grids", "export", "--root", TOWN, "--level", "4", "-o", str(out))
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert len(fc["features"]) == 3


def test_lookup(tiny_grid, capsys):
    lng, lat = IN_GROUP
    call_command("grids", "lookup", str(lat), str(lng))
    out = capsys.readouterr().out
    assert TOWN + "101001001" in out and "一楼组" in out
    with pytest.raises(SystemExit):
        call_command("grids", "lookup", str(OUTSIDE[1]), str(OUTSIDE[0]))
    assert "不在任何网格" in capsys.readouterr().err
