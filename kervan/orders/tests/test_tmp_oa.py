import json
def test_oa(client, db):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    params = [p["name"] for p in spec["paths"]["/api/v1/orders/"]["get"]["parameters"]]
    print(params)
    print([p for p in spec["paths"]["/api/v1/orders/"]["get"]["parameters"] if p["name"] == "status"])
    print([p["name"] for p in spec["paths"]["/api/v1/catalog/products"]["get"]["parameters"]])
