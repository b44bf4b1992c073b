"""The old script, faithfully: v1 search, pages of 100, max_records = 10 000, pandas, to_csv.

Re-implemented for the benchmark only (bench/cpf_bench.py runs it beside cpfft).
Usage: python bench/old_cpf.py BASE_URL OUTPUT.csv
"""

import sys

import pandas as pd
import requests

DATASET = "moncompteformation_catalogueformation"


def main(base_url: str, output: str) -> None:
    url = f"{base_url}/api/records/1.0/search/"
    max_records = 10000
    rows = 100
    start = 0
    records = []
    while start < max_records:
        params = {"dataset": DATASET, "rows": rows, "start": start}
        response = requests.get(url, params=params, timeout=60)
        response.raise_for_status()
        page = response.json().get("records", [])
        if not page:
            break
        records.extend(r["fields"] for r in page)
        start += rows
    df = pd.DataFrame(records)
    df.to_csv(output, index=False, encoding="utf-8-sig")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
