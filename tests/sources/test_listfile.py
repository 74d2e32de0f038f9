"""A list file's rows get the folder source's checks: labels, sections, BOM, conflicting duplicates."""

from mmabench.sources.listfile import ListSource


def test_list_rows_are_checked_and_reasons_kept(tmp_path):
    path = tmp_path / "list.csv"
    rows = [
        "ytid,start,end,label",
        "aaa,0,10,Dog",
        "bbb,10,5,Dog",
        f"ccc,0,10,{'y' * 201}",
        "ddd,0,10,Not a class",
        "eee,0,10,Dog",
        "eee,0,10,Cat",
    ]
    path.write_bytes(("\n".join(rows) + "\n").encode("utf-8-sig"))
    src = ListSource(path)
    specs = list(src.specs())
    reasons = {n: why for _, n, why in src.bad_rows}
    assert [s.source_ref for s in specs] == ["aaa"]  # the BOM did not hide the `ytid` column
    assert reasons[3] == "start after end" and "longer than 200" in reasons[4] and "unknown class" in reasons[5]
    assert "conflicting labels" in reasons[6] and "conflicting labels" in reasons[7]
    assert [s.label for s in ListSource(path, allow_new_classes=True).specs()][-1] == "Not a class"
