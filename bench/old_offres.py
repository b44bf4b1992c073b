"""The old approach, faithfully: one token, range windows in a loop, no splitting.

Re-implemented for the benchmark only (bench/offres_bench.py runs it beside cpfft).
Usage: python bench/old_offres.py API_URL TOKEN_URL OUTPUT.csv  (credentials in FT_CLIENT_ID/SECRET)
"""

import os
import sys

import pandas as pd
import requests


def main(api_url: str, token_url: str, output: str) -> None:
    token = requests.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": os.environ["FT_CLIENT_ID"],
            "client_secret": os.environ["FT_CLIENT_SECRET"],
            "scope": "api_offresdemploiv2 o2dsoffre",
        },
        timeout=30,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    rows = []
    start = 0
    while start <= 3000:
        response = requests.get(
            f"{api_url}/partenaire/offresdemploi/v2/offres/search",
            params={"range": f"{start}-{start + 149}"},
            headers=headers,
            timeout=30,
        )
        if response.status_code == 204:
            break
        response.raise_for_status()
        for offer in response.json().get("resultats", []):
            rows.append({
                "Intitulé": offer.get("intitule"),
                "Lieu": offer.get("lieuTravail", {}).get("libelle"),
                "Entreprise": offer.get("entreprise", {}).get("nom"),
                "Date de publication": offer.get("dateCreation"),
                "Description": offer.get("description"),
                "URL": f"https://candidat.francetravail.fr/offres/recherche/detail/{offer.get('id')}",
            })  # fmt: skip
        start += 150
    pd.DataFrame(rows).to_csv(output, index=False, encoding="utf-8-sig")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
