"""Who publishes each source, where, and under which licence: one place for every output.

Descriptors (``datapackage.json``), the warehouse's ``sources`` table and the
report all name the source, its licence and a link to it from this table.

The two licences differ. The catalogue is open data under the Licence Ouverte
(Etalab 2.0): reuse is free provided the source and the date of last update are
credited. The offers are not: France Travail's *licence de réutilisation des
offres d'emploi* asks reusers to show the source, the date of the last update
and a link to the licence, to refresh at least every 24 hours and reflect
withdrawn and changed offers, to anonymise withdrawn offers they keep, and it
restricts making the content available to third parties.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    name: str  # the output's name: "formations" or "offres"
    spider: str
    title: str
    producer: str
    url: str
    licence: str
    licence_url: str
    #: What the licence asks of whoever shows or shares the data, in French (for READMEs,
    #: descriptors and the report).
    obligations: str


FORMATIONS = Source(
    name="formations",
    spider="cpf",
    title="Catalogue des formations Mon Compte Formation",
    producer="Caisse des Dépôts",
    url="https://opendata.caissedesdepots.fr/explore/dataset/moncompteformation_catalogueformation/",
    licence="Licence Ouverte / Open Licence version 2.0 (Etalab)",
    licence_url="https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    obligations=(
        "Réutilisation libre, y compris commerciale, à condition de mentionner la source "
        "(Caisse des Dépôts) et la date de dernière mise à jour."
    ),
)

OFFRES = Source(
    name="offres",
    spider="offres",
    title="Offres d'emploi France Travail (API Offres d'emploi v2)",
    producer="France Travail",
    url="https://francetravail.io/data/api/offres-emploi",
    licence="Licence de réutilisation des offres d'emploi de France Travail",
    licence_url=(
        "https://francetravail.io/produits-partages/documentation/"
        "conditions-dutilisation-api/licence-offres-emploi"
    ),
    obligations=(
        "Afficher la source (France Travail), la date de dernière mise à jour et un lien vers "
        "la licence ; rafraîchir au moins toutes les 24 heures et refléter les offres retirées "
        "ou modifiées ; anonymiser les offres retirées que l'on conserve ; la mise à disposition "
        "du contenu à des tiers est restreinte (voir la licence)."
    ),
)

SOURCES: dict[str, Source] = {s.name: s for s in (FORMATIONS, OFFRES)}
BY_SPIDER: dict[str, Source] = {s.spider: s for s in (FORMATIONS, OFFRES)}
