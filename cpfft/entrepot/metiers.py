"""The jobs ↔ trainings bridge: table ``metiers``, one row per ROME code and territory.

Territories: the country (``niveau`` ``pays``, ``territoire`` ``FR``), each region
(its INSEE code) and each département (its code). For each code and territory:

offers (table ``offres``, by ``code_rome``)
    ``nb_offres``; ``nb_offres_cdi`` and ``part_cdi`` (``type_contrat`` = ``CDI``);
    ``salaire_median``: the median monthly gross salary of the offers whose salary
    text can be read (:func:`cpfft.entrepot.salaire.monthly_salary`). An offer
    counts in its département, the département's region and FR; an offer located
    at region level only (``lieu`` is a region's name) in that region and FR; an
    offer with no known place in FR only.
trainings (table ``formations``: a row matches a code when one of ``code_rome_1``
to ``code_rome_5`` is the code)
    ``nb_formations``: distinct ``numero_formation`` among the matching rows of
    the territory (``code_departement``, ``code_region``; FR: all rows);
    ``nb_organismes``: distinct ``siret``; ``part_distance``: share of those
    formations with a distance session (``nb_session_a_distance`` > 0 on one of
    their rows there); ``prix_*`` and ``heures_*``: median and quartiles of
    ``frais_ttc_tot_mean`` and ``nombre_heures_total_mean`` over the formations,
    one value per formation (the mean of its rows in the territory), quartiles
    interpolated linearly (as pandas' ``quantile`` does).

``offres_par_formation`` = nb_offres / nb_formations (NULL without formations).
A code found on one side only is kept: ``presence`` says ``offres seulement`` or
``formations seulement`` (ROME versions differ between the two sources), else
``les deux``. ROME codes are compared trimmed and upper-cased.
"""

# ruff: noqa: S608 - SQL from constant column names only
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpfft.entrepot.salaire import monthly_salary
from cpfft.exporters import format_float, neutralise_formula

#: The bridge's columns, in order (the shared contract).
COLUMNS = (
    "code_rome", "libelle_rome", "niveau", "territoire", "libelle_territoire",
    "nb_offres", "nb_offres_cdi", "part_cdi", "salaire_median",
    "nb_formations", "nb_organismes", "part_distance",
    "prix_median", "prix_q1", "prix_q3", "heures_median", "heures_q1", "heures_q3",
    "offres_par_formation", "presence",
)  # fmt: skip


@dataclass
class BridgeSummary:
    codes_both: int
    codes_offers_only: int
    codes_trainings_only: int
    salaries_read: int
    salaries_unreadable: int
    salaries_missing: int
    offers_without_code: int
    rows: int


def _salaries(con: Any) -> tuple[int, int, int]:
    """Temp table ``salaires`` (text → monthly amount); (read, unreadable, missing) offers."""
    texts = con.execute(
        "SELECT salaire, count(*) FROM offres WHERE salaire IS NOT NULL GROUP BY salaire"
    ).fetchall()
    con.execute("CREATE TEMP TABLE salaires (salaire VARCHAR, mensuel DOUBLE)")
    parsed = [(text, monthly_salary(text)) for text, _ in texts]
    if parsed:
        con.executemany("INSERT INTO salaires VALUES (?, ?)", parsed)
    read = sum(n for (_, n), (_, amount) in zip(texts, parsed, strict=True) if amount is not None)
    unreadable = sum(n for _, n in texts) - read
    missing = con.execute("SELECT count(*) FROM offres WHERE salaire IS NULL").fetchone()[0]
    return read, unreadable, missing


BRIDGE_SQL = """
CREATE TABLE metiers AS
WITH o AS (
    SELECT upper(trim(o.code_rome)) AS code_rome, o.libelle_rome, o.type_contrat,
           o.departement, o.region, s.mensuel
    FROM offres o LEFT JOIN salaires s ON s.salaire = o.salaire
    WHERE NULLIF(trim(o.code_rome), '') IS NOT NULL
),
ot AS (
    SELECT code_rome, 'pays' AS niveau, 'FR' AS territoire, type_contrat, mensuel FROM o
    UNION ALL
    SELECT code_rome, 'region', region, type_contrat, mensuel FROM o WHERE region IS NOT NULL
    UNION ALL
    SELECT code_rome, 'departement', departement, type_contrat, mensuel FROM o
    WHERE departement IS NOT NULL
),
oa AS (
    SELECT code_rome, niveau, territoire, count(*) AS nb_offres,
           count(*) FILTER (WHERE type_contrat = 'CDI') AS nb_offres_cdi,
           median(mensuel) AS salaire_median
    FROM ot GROUP BY code_rome, niveau, territoire
),
labels AS (
    SELECT code_rome, arg_min(libelle_rome, sort_key) AS libelle_rome FROM (
        SELECT code_rome, libelle_rome, (-count(*), libelle_rome) AS sort_key
        FROM o WHERE libelle_rome IS NOT NULL GROUP BY code_rome, libelle_rome
    ) GROUP BY code_rome
),
f AS (
    SELECT DISTINCT upper(trim(c.code)) AS code_rome, numero_formation, siret,
           code_departement, code_region, nb_session_a_distance,
           frais_ttc_tot_mean, nombre_heures_total_mean
    FROM formations,
         unnest([code_rome_1, code_rome_2, code_rome_3, code_rome_4, code_rome_5]) AS c(code)
    WHERE NULLIF(trim(c.code), '') IS NOT NULL
),
ft AS (
    SELECT code_rome, 'pays' AS niveau, 'FR' AS territoire, * EXCLUDE (code_rome) FROM f
    UNION ALL
    SELECT code_rome, 'region', code_region, * EXCLUDE (code_rome) FROM f
    WHERE code_region IS NOT NULL
    UNION ALL
    SELECT code_rome, 'departement', code_departement, * EXCLUDE (code_rome) FROM f
    WHERE code_departement IS NOT NULL
),
per_formation AS (
    SELECT code_rome, niveau, territoire, numero_formation,
           -- Summed in sorted order: a parallel sum's order varies, and with it the last
           -- bit of the mean, so that the same data would not give the same bridge twice.
           avg(frais_ttc_tot_mean ORDER BY frais_ttc_tot_mean) AS prix,
           avg(nombre_heures_total_mean ORDER BY nombre_heures_total_mean) AS heures,
           coalesce(bool_or(nb_session_a_distance > 0), false) AS distance
    FROM ft WHERE numero_formation IS NOT NULL
    GROUP BY code_rome, niveau, territoire, numero_formation
),
fa AS (
    SELECT code_rome, niveau, territoire, count(*) AS nb_formations,
           count(*) FILTER (WHERE distance) / count(*) AS part_distance,
           quantile_cont(prix, 0.5) AS prix_median, quantile_cont(prix, 0.25) AS prix_q1,
           quantile_cont(prix, 0.75) AS prix_q3,
           quantile_cont(heures, 0.5) AS heures_median, quantile_cont(heures, 0.25) AS heures_q1,
           quantile_cont(heures, 0.75) AS heures_q3
    FROM per_formation GROUP BY code_rome, niveau, territoire
),
org AS (
    SELECT code_rome, niveau, territoire, count(DISTINCT siret) AS nb_organismes
    FROM ft GROUP BY code_rome, niveau, territoire
),
sides AS (
    SELECT code_rome, bool_or(side = 'o') AS in_offers, bool_or(side = 'f') AS in_trainings
    FROM (SELECT DISTINCT code_rome, 'o' AS side FROM oa
          UNION ALL SELECT DISTINCT code_rome, 'f' FROM org)
    GROUP BY code_rome
),
keys AS (
    SELECT code_rome, niveau, territoire FROM oa
    UNION SELECT code_rome, niveau, territoire FROM org
)
SELECT k.code_rome,
       l.libelle_rome,
       k.niveau,
       k.territoire,
       CASE k.niveau WHEN 'pays' THEN 'France' WHEN 'region' THEN gr.nom ELSE gd.nom END
           AS libelle_territoire,
       coalesce(oa.nb_offres, 0) AS nb_offres,
       coalesce(oa.nb_offres_cdi, 0) AS nb_offres_cdi,
       CAST(oa.nb_offres_cdi AS DOUBLE) / oa.nb_offres AS part_cdi,
       CAST(oa.salaire_median AS DOUBLE) AS salaire_median,
       coalesce(fa.nb_formations, 0) AS nb_formations,
       coalesce(org.nb_organismes, 0) AS nb_organismes,
       CAST(fa.part_distance AS DOUBLE) AS part_distance,
       CAST(fa.prix_median AS DOUBLE) AS prix_median,
       CAST(fa.prix_q1 AS DOUBLE) AS prix_q1,
       CAST(fa.prix_q3 AS DOUBLE) AS prix_q3,
       CAST(fa.heures_median AS DOUBLE) AS heures_median,
       CAST(fa.heures_q1 AS DOUBLE) AS heures_q1,
       CAST(fa.heures_q3 AS DOUBLE) AS heures_q3,
       CASE WHEN coalesce(fa.nb_formations, 0) > 0
            THEN coalesce(oa.nb_offres, 0) / CAST(fa.nb_formations AS DOUBLE) END
           AS offres_par_formation,
       CASE WHEN s.in_offers AND s.in_trainings THEN 'les deux'
            WHEN s.in_offers THEN 'offres seulement' ELSE 'formations seulement' END
           AS presence
FROM keys k
JOIN sides s USING (code_rome)
LEFT JOIN labels l USING (code_rome)
LEFT JOIN oa USING (code_rome, niveau, territoire)
LEFT JOIN fa USING (code_rome, niveau, territoire)
LEFT JOIN org USING (code_rome, niveau, territoire)
LEFT JOIN geo_regions gr ON k.niveau = 'region' AND gr.code = k.territoire
LEFT JOIN geo_departements gd ON k.niveau = 'departement' AND gd.code = k.territoire
ORDER BY k.code_rome, CASE k.niveau WHEN 'pays' THEN 0 WHEN 'region' THEN 1 ELSE 2 END,
         k.territoire
"""


def build_metiers(con: Any) -> BridgeSummary:
    """Create the ``metiers`` table from ``offres`` and ``formations`` (and the temp tables
    ``geo_regions``, ``geo_departements`` the loader made); return its counts."""
    read, unreadable, missing = _salaries(con)
    con.execute(BRIDGE_SQL)
    both, offers_only, trainings_only = con.execute(
        "SELECT count(DISTINCT code_rome) FILTER (WHERE presence = 'les deux'), "
        "count(DISTINCT code_rome) FILTER (WHERE presence = 'offres seulement'), "
        "count(DISTINCT code_rome) FILTER (WHERE presence = 'formations seulement') FROM metiers"
    ).fetchone()
    without = con.execute(
        "SELECT count(*) FROM offres WHERE NULLIF(trim(code_rome), '') IS NULL"
    ).fetchone()[0]
    rows = con.execute("SELECT count(*) FROM metiers").fetchone()[0]
    return BridgeSummary(both, offers_only, trainings_only, read, unreadable, missing, without,
                         rows)  # fmt: skip


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return format_float(value) if math.isfinite(value) else ""
    if isinstance(value, str):
        return neutralise_formula(value)
    return value


def write_metiers_csv(con: Any, path: Path, delimiter: str = ",") -> None:
    """The ``metiers`` table as a CSV like the spiders' (UTF-8 with BOM, header, the
    formula guard on text cells)."""
    cursor = con.execute(f"SELECT {', '.join(COLUMNS)} FROM metiers")
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(COLUMNS)
        while rows := cursor.fetchmany(10_000):
            writer.writerows([_cell(v) for v in row] for row in rows)
