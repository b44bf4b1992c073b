"""The jobs ↔ trainings bridge: table ``metiers``, one row per ROME code and territory.

Territories: the country (``niveau`` ``pays``, ``territoire`` ``FR``), each region
(its INSEE code) and each département (its code). For each code and territory:

offers (table ``offres``, by ``code_rome``)
    ``nb_offres``; ``nb_offres_cdi`` and ``part_cdi`` (``type_contrat`` = ``CDI``);
    ``nb_offres_alternance`` and ``part_alternance`` (``alternance`` true: open to
    apprenticeship); ``salaire_median``: the median monthly gross salary of the
    ``nb_offres_salaire`` offers whose salary can be read, from its libellé or else
    from its comment (:func:`cpfft.entrepot.salaire.offer_salary`). An offer
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
    interpolated linearly (as pandas' ``quantile`` does). The catalogue writes 0
    where it gives no hours (half of the real rows) and no price: a 0 is no value,
    left out of the statistics, which ``nb_formations_prix`` and
    ``nb_formations_heures`` count (formations with a price, with hours).

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

from cpfft.entrepot.salaire import offer_salary
from cpfft.exporters import format_float, neutralise_formula

#: The bridge's columns, in order (the shared contract).
COLUMNS = (
    "code_rome", "libelle_rome", "niveau", "territoire", "libelle_territoire",
    "nb_offres", "nb_offres_cdi", "part_cdi", "nb_offres_alternance", "part_alternance",
    "salaire_median", "nb_offres_salaire",
    "nb_formations", "nb_organismes", "part_distance",
    "prix_median", "prix_q1", "prix_q3", "nb_formations_prix",
    "heures_median", "heures_q1", "heures_q3", "nb_formations_heures",
    "offres_par_formation", "presence",
)  # fmt: skip


@dataclass
class BridgeSummary:
    codes_both: int
    codes_offers_only: int
    codes_trainings_only: int
    salaries_read: int  # from the libellé or the comment
    salaries_from_comment: int  # of which from the comment only
    salaries_unreadable: int
    salaries_missing: int
    offers_without_code: int
    rows: int
    #: Catalogue rows that give no hours / no price (0 or empty): outside the statistics.
    rows_without_hours: int = 0
    rows_without_price: int = 0


def _salaries(con: Any) -> tuple[int, int, int, int]:
    """Temp table ``salaires`` ((libellé, comment) → monthly amount); offers whose salary
    was (read, read from the comment, unreadable, missing)."""
    texts = con.execute(
        "SELECT salaire, salaire_commentaire, count(*) FROM offres "
        "WHERE salaire IS NOT NULL OR salaire_commentaire IS NOT NULL "
        "GROUP BY salaire, salaire_commentaire"
    ).fetchall()
    con.execute(
        "CREATE TEMP TABLE salaires (salaire VARCHAR, salaire_commentaire VARCHAR, mensuel DOUBLE)"
    )
    parsed = [(libelle, comment, *offer_salary(libelle, comment)) for libelle, comment, _ in texts]
    if parsed:
        con.executemany("INSERT INTO salaires VALUES (?, ?, ?)", [p[:3] for p in parsed])
    read = from_comment = 0
    for (*_, n), (*_, amount, source) in zip(texts, parsed, strict=True):
        read += n if amount is not None else 0
        from_comment += n if source == "commentaire" else 0
    unreadable = sum(n for *_, n in texts) - read
    missing = con.execute(
        "SELECT count(*) FROM offres WHERE salaire IS NULL AND salaire_commentaire IS NULL"
    ).fetchone()[0]
    return read, from_comment, unreadable, missing


BRIDGE_SQL = """
CREATE TABLE metiers AS
WITH o AS (
    SELECT upper(trim(o.code_rome)) AS code_rome, o.libelle_rome, o.type_contrat,
           o.alternance, o.departement, o.region, s.mensuel
    FROM offres o
    LEFT JOIN salaires s ON s.salaire IS NOT DISTINCT FROM o.salaire
        AND s.salaire_commentaire IS NOT DISTINCT FROM o.salaire_commentaire
    WHERE NULLIF(trim(o.code_rome), '') IS NOT NULL
),
ot AS (
    SELECT code_rome, 'pays' AS niveau, 'FR' AS territoire, type_contrat, alternance, mensuel
    FROM o
    UNION ALL
    SELECT code_rome, 'region', region, type_contrat, alternance, mensuel
    FROM o WHERE region IS NOT NULL
    UNION ALL
    SELECT code_rome, 'departement', departement, type_contrat, alternance, mensuel
    FROM o WHERE departement IS NOT NULL
),
oa AS (
    SELECT code_rome, niveau, territoire, count(*) AS nb_offres,
           count(*) FILTER (WHERE type_contrat = 'CDI') AS nb_offres_cdi,
           count(*) FILTER (WHERE alternance) AS nb_offres_alternance,
           median(mensuel) AS salaire_median, count(mensuel) AS nb_offres_salaire
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
           -- 0 is how the catalogue says "not given": no value.
           CASE WHEN frais_ttc_tot_mean > 0 THEN frais_ttc_tot_mean END AS frais_ttc_tot_mean,
           CASE WHEN nombre_heures_total_mean > 0 THEN nombre_heures_total_mean END
               AS nombre_heures_total_mean
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
           quantile_cont(prix, 0.75) AS prix_q3, count(prix) AS nb_formations_prix,
           quantile_cont(heures, 0.5) AS heures_median, quantile_cont(heures, 0.25) AS heures_q1,
           quantile_cont(heures, 0.75) AS heures_q3, count(heures) AS nb_formations_heures
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
       coalesce(oa.nb_offres_alternance, 0) AS nb_offres_alternance,
       CAST(oa.nb_offres_alternance AS DOUBLE) / oa.nb_offres AS part_alternance,
       CAST(oa.salaire_median AS DOUBLE) AS salaire_median,
       coalesce(oa.nb_offres_salaire, 0) AS nb_offres_salaire,
       coalesce(fa.nb_formations, 0) AS nb_formations,
       coalesce(org.nb_organismes, 0) AS nb_organismes,
       CAST(fa.part_distance AS DOUBLE) AS part_distance,
       CAST(fa.prix_median AS DOUBLE) AS prix_median,
       CAST(fa.prix_q1 AS DOUBLE) AS prix_q1,
       CAST(fa.prix_q3 AS DOUBLE) AS prix_q3,
       coalesce(fa.nb_formations_prix, 0) AS nb_formations_prix,
       CAST(fa.heures_median AS DOUBLE) AS heures_median,
       CAST(fa.heures_q1 AS DOUBLE) AS heures_q1,
       CAST(fa.heures_q3 AS DOUBLE) AS heures_q3,
       coalesce(fa.nb_formations_heures, 0) AS nb_formations_heures,
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
    read, from_comment, unreadable, missing = _salaries(con)
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
    no_hours, no_price = con.execute(
        "SELECT count(*) FILTER (WHERE coalesce(nombre_heures_total_mean, 0) <= 0), "
        "count(*) FILTER (WHERE coalesce(frais_ttc_tot_mean, 0) <= 0) FROM formations"
    ).fetchone()
    return BridgeSummary(both, offers_only, trainings_only, read, from_comment, unreadable,
                         missing, without, rows, no_hours, no_price)  # fmt: skip


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
