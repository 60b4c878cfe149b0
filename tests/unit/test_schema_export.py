from schemas.export import json_schemas


def test_every_contract_exports_a_json_schema_with_its_routing():
    exported = json_schemas()
    start = exported["call.start.v1"]
    assert start["x-routing-key"] == "call.start" and start["x-exchange"] == "telephony"
    assert {"id", "type", "timestamp", "call_id", "source", "destination"} <= set(start["properties"])
    assert set(exported) >= {"call.end.v1", "call.completed.v1", "bill.requested.v1", "bill.v1"}
