"""Issue 11, the operators' command: `import_file orders PATH --preset P --mapping FILE` runs as the page does and its
JSON summary counts customers created and matched, skipped rows and errors by reason."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kervan.customers.models import Customer
from kervan.orders.models import Order

pytestmark = pytest.mark.django_db

HEADER = ["Belge", "Tarih", "Cari Kod", "Malzeme", "Miktar", "Fiyat"]
ROWS = [
    ["1", "2024-05-01", "M1", "Kalem", "2", "5"],
    ["2", "2024-05-02", "M2", "Silgi", "x", "5"],  # a bad quantity: its order skipped, one invalid_number
    ["3", "2024-05-03", "", "Defter", "1", "7"],  # a guest
    ["4", "2024-05-04", "M1", "Kalem", "1", ""],  # no price
]
MAPPING = {
    "Belge": "order_number",
    "Tarih": "placed_at",
    "Cari Kod": "customer_id",
    "Malzeme": "title",
    "Miktar": "quantity",
    "Fiyat": "unit_price",
}


def write(path, rows):
    path.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
    return str(path)


def test_a_mapping_file_and_the_summary_of_every_count(tmp_path, capsys):
    data = write(tmp_path / "erp.csv", [HEADER, *ROWS])
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING), encoding="utf-8")
    call_command("import_file", "orders", data, "--mapping", str(mapping), "--source", "Old ERP")
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert "rows checked" in err and "2 errors" in err  # the progress bar, then its last line
    assert summary["status"] == "done"
    assert {k: summary[k] for k in ("rows", "orders", "lines", "guest_orders", "customers_created", "skipped")} == {
        "rows": 4, "orders": 2, "lines": 2, "guest_orders": 1, "customers_created": 1, "skipped": 2,
    }  # fmt: skip
    assert summary["errors"] == {"invalid_number": 1, "missing_unit_price": 1}
    assert summary["error_count"] == 2
    for name in ("returns", "payments", "reviews", "customers_matched"):
        assert name in summary
    # The same customer's next file: matched by the store's id, not created again.
    later = write(tmp_path / "erp2.csv", [HEADER, ["5", "2024-06-01", "M1", "Kalem", "1", "5"]])
    call_command("import_file", "orders", later, "--mapping", str(mapping), "--source", "Old ERP")
    again = json.loads(capsys.readouterr().out)
    assert (again["customers_matched"], again["customers_created"], again["orders"]) == (1, 0, 1)
    assert Customer.objects.count() == 2 and Order.objects.count() == 3


def test_a_preset_named_on_the_command_line(tmp_path, capsys):
    header = ["order_id", "customer_id", "order_date", "status", "product_id", "price", "freight"]
    data = write(tmp_path / "export.csv", [header, ["a1", "c1", "2017-10-02 10:56:33", "approved", "p1", "9", "1"]])
    call_command("import_file", "orders", data, "--preset", "generic_orders", "--currency", "BRL", "--dry-run")
    summary = json.loads(capsys.readouterr().out)
    assert (summary["preset"], summary["orders"], summary["dry_run"]) == ("generic_orders", 1, True)
    assert Order.objects.count() == 0
    with pytest.raises(CommandError):
        call_command("import_file", "orders", data, "--preset", "no_such_preset")
