"""Door-plate sheets: the PDF holds every address (pypdf text extraction) and QR codes that
decode to the scan URLs; the SVG is valid XML with one QR per object; the page runs a job; the
CLI writes the file."""

from __future__ import annotations

import io
from xml.etree import ElementTree

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from towngrid.codes import plates
from towngrid.codes.errors import CodeError
from towngrid.codes.models import ObjectCode

from .support import *  # noqa: F403
from .support import GROUP, IN_GROUP, MICRO, make_house

BASE = "https://grid.example.gov.cn"
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def houses(town):
    from towngrid.grids.models import GridNode

    group = GridNode.objects.get(code=GROUP)
    made = [
        make_house(group=group, lng=IN_GROUP[0], lat=IN_GROUP[1], room=f"{i}01")
        for i in range(1, 8)
    ]
    make_house()  # in the micro-grid, outside the group
    return made


def test_pdf_holds_every_address_and_decodable_codes(houses):
    data, name, count = plates.make_sheet(GROUP, "pdf", BASE)
    assert count == len(houses) and name.endswith(".pdf")
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 2  # six plates a page
    text = "".join(page.extract_text() for page in reader.pages).replace(" ", "")
    for house in houses:
        assert house.full_address in text, house.full_address
    assert "一户一码" in text and "所属网格" in text
    # Codes were issued on the way, one per house of the group.
    tokens = set(ObjectCode.objects.filter(group_code=GROUP).values_list("token", flat=True))
    assert len(tokens) == len(houses)


def test_sheet_qr_codes_decode_to_the_scan_urls(houses):
    """Every QR of the SVG sheet, rasterised, decodes (zxing-cpp) to its object's scan URL.
    (The PDF draws the same module matrix; there is no PDF rasteriser in the test tools.)"""
    import zxingcpp
    from PIL import Image

    svg, _, _ = plates.make_sheet(GROUP, "svg", BASE)
    tokens = set(ObjectCode.objects.filter(group_code=GROUP).values_list("token", flat=True))
    root = ElementTree.fromstring(svg)
    decoded = set()
    for group in root.iter(f"{SVG_NS}g"):
        if group.get("class") != "qr":
            continue
        decoded.add(_decode_svg_group(group, zxingcpp, Image))
    assert decoded == {f"{BASE}/c/{t}/" for t in tokens}


def _decode_svg_group(group, zxingcpp, Image) -> str:
    """Rasterise one QR group of the sheet (its path of unit squares) and decode it."""
    import re

    path = group.find(f"{SVG_NS}path").get("d")
    size = int(group.find(f"{SVG_NS}rect").get("width"))
    scale = 6
    image = Image.new("L", (size * scale, size * scale), 255)
    pixels = image.load()
    for x, y, w in re.findall(r"M(\d+),(\d+)h(\d+)", path):
        x, y, w = int(x), int(y), int(w)
        for dx in range(w * scale):
            for dy in range(scale):
                pixels[x * scale + dx, y * scale + dy] = 0
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    return results[0].text


def test_svg_is_valid_xml_with_one_qr_per_object(houses):
    data, name, count = plates.make_sheet(GROUP, "svg", BASE)
    assert name.endswith(".svg")
    root = ElementTree.fromstring(data)
    assert root.tag == f"{SVG_NS}svg"
    qr_groups = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "qr"]
    plate_groups = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "plate"]
    assert len(qr_groups) == len(plate_groups) == count == len(houses)
    tokens = {g.get("data-token") for g in plate_groups}
    assert len(tokens) == len(houses)
    text = "".join(t.text or "" for t in root.iter(f"{SVG_NS}text"))
    for house in houses:
        assert house.full_address in text


def test_a_micro_grid_sheet_holds_the_group_and_the_rest(houses):
    _, _, count = plates.make_sheet(MICRO, "svg", BASE)
    assert count == len(houses) + 1


def test_unknown_grid_and_format_are_refused(town):
    with pytest.raises(CodeError):
        plates.make_sheet("310117901999", "pdf", BASE)
    with pytest.raises(CodeError):
        plates.make_sheet(GROUP, "docx", BASE)


def test_cli_writes_the_sheet(houses, tmp_path):
    out = tmp_path / "plates.pdf"
    call_command("codes", "plates", "--group", GROUP, "-o", str(out), "--no-progress",
                 "--base-url", BASE)  # fmt: skip
    assert out.read_bytes().startswith(b"%PDF")
    with pytest.raises(CommandError):
        call_command("codes", "plates", "--group", GROUP, "-o", str(tmp_path / "x.txt"))


def test_plates_page_runs_a_job(client, houses, manager, worker):
    from towngrid.core.jobs import job_file
    from towngrid.core.models import Job

    client.force_login(worker)
    assert client.get("/codes/plates/").status_code == 403
    client.force_login(manager)
    assert client.get("/codes/plates/").status_code == 200
    response = client.post("/codes/plates/", {"grid": GROUP, "format": "svg"})
    assert response.status_code == 200
    job = Job.objects.get(kind="codes.plates")
    assert job.status == "done", job.error
    assert job.result["plates"] == len(houses)
    assert job_file(job).read_bytes().startswith(b"<?xml")
    assert 'data-testid="job-progress"' in response.content.decode()


def test_plates_page_refuses_a_grid_outside_the_scope(client, houses, manager):
    from towngrid.core.models import Job

    from .support import OTHER_MICRO

    client.force_login(manager)
    response = client.post("/codes/plates/", {"grid": OTHER_MICRO, "format": "pdf"})
    assert "不在您的管辖范围内" in response.content.decode()
    assert not Job.objects.exists()


def test_one_building_only(houses):
    one = houses[0]
    building = f"{one.road}{one.lane}弄 {one.number}号"  # spaces are ignored
    data, _, count = plates.make_sheet(GROUP, "svg", BASE, building=building)
    assert count == 1
    assert one.full_address in data.decode()
