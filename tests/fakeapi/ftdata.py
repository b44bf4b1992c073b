"""Deterministic synthetic job offers shaped like France Travail's « Offres d'emploi v2 » (§4.9).

Independent of the client code under test. Offers are plain dicts, as the API
serialises them (absent fields omitted, never null). Alongside each offer the
generator keeps the hidden facts the search filters work on (département,
region, nature code, experience bucket…), in :class:`Offer`.

What it deliberately contains: one département (``heavy_departement``) holding
far more than 3 150 offers, offers located only at region or country level,
partner offers (origin 2), missing employer names and salaries, HTML entities
in partner descriptions, hostile text (formula triggers, separators, CR/LF,
emoji), and a burst of offers created in the very same second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakeapi.cpfdata import DEPARTEMENT_NAMES, DEPARTEMENT_REGION, REGIONS

DETAIL_URL = "https://candidat.francetravail.fr/offres/recherche/detail/"

TYPES_CONTRATS = {
    "CDI": "Contrat à durée indéterminée", "CDD": "Contrat à durée déterminée",
    "MIS": "Mission intérimaire", "SAI": "Contrat travail saisonnier",
    "CCE": "Profession commerciale", "DDI": "Contrat durée déterminée insertion",
    "DIN": "CDI Intérimaire", "FRA": "Franchise", "LIB": "Profession libérale",
}  # fmt: skip
NATURES_CONTRATS = {
    "E1": "Contrat travail", "E2": "Contrat apprentissage", "FA": "Act. Formation pré.recrut.",
    "FJ": "Contrat pacte", "FS": "Cont. professionnalisation", "FT": "CUI - CAE",
    "FU": "CUI - CIE", "I1": "Insertion par l'activ.éco.", "NS": "Emploi non salarié",
    "FV": "Prépa.opérationnel.emploi", "FW": "Emploi Avenir non marchand",
    "FX": "Emploi Avenir marchand", "FY": "Emploi Avenir Professeur", "PS": "Portage salarial",
    "PR": "Contrat PrAB", "CC": "CDI de chantier ou d'opération", "CU": "Contrat d'usage",
    "EE": "Contrat d'Engagement Educatif", "ER": "Engagement à servir dans la réserve",
    "CI": "Contrat intermittent",
}  # fmt: skip
QUALIFICATIONS = {
    "1": "Manœuvre", "2": "Ouvrier spécialisé", "3": "Ouvrier qualifié (P1,P2)",
    "4": "Ouvrier qualifié (P3,P4,OHQ)", "5": "Employé non qualifié", "6": "Employé qualifié",
    "7": "Technicien", "8": "Agent de maîtrise", "9": "Cadre",
}  # fmt: skip
# (ROME code, ROME label, appellation code, appellation label, job title, keywords, NAF, sector)
JOBS = [
    ("M1805", "Études et développement informatique", "38444", "Développeur / Développeuse back-end",
     "Développeur Python / Django (H/F)", "python django api", "62.01Z", "Programmation informatique"),
    ("M1811", "Data engineer", "404278", "Data engineer", "Data engineer Python (H/F)",
     "python sql spark", "62.02A", "Conseil en systèmes et logiciels informatiques"),
    ("M1855", "Développeur / Développeuse web", "38445", "Développeur / Développeuse web",
     "Développeur web JavaScript (H/F)", "javascript react web", "58.29C", "Édition de logiciels applicatifs"),
    ("J1501", "Soins d'hygiène, de confort du patient", "12345", "Aide-soignant / Aide-soignante",
     "Aide-soignant de nuit (H/F)", "soins patient nuit", "86.10Z", "Activités hospitalières"),
    ("D1106", "Vente en alimentation", "19364", "Vendeur / Vendeuse en boulangerie",
     "Vendeur en boulangerie (H/F)", "vente boulangerie", "47.24Z", "Commerce de détail de pain"),
    ("N1103", "Magasinage et préparation de commandes", "20025", "Préparateur / Préparatrice de commandes",
     "Préparateur de commandes (H/F)", "logistique entrepot caces", "52.10B", "Entreposage et stockage non frigorifique"),
    ("K2204", "Nettoyage de locaux", "16066", "Agent / Agente de propreté",
     "Agent de propreté (H/F)", "nettoyage proprete", "81.21Z", "Nettoyage courant des bâtiments"),
    ("G1602", "Personnel de cuisine", "11642", "Cuisinier / Cuisinière",
     "Cuisinier / Cuisinière (H/F)", "cuisine restauration", "56.10A", "Restauration traditionnelle"),
    ("M1607", "Secrétariat", "10902", "Secrétaire", "Secrétaire administratif (H/F)",
     "secretariat accueil bureautique", "82.11Z", "Services administratifs combinés de bureau"),
    ("F1703", "Maçonnerie", "14621", "Maçon / Maçonne", "Maçon qualifié (H/F)",
     "maconnerie batiment", "43.99C", "Travaux de maçonnerie générale"),
    ("M1203", "Comptabilité", "11548", "Comptable", "Comptable fournisseurs (H/F)",
     "comptabilite fournisseurs sage", "69.20Z", "Activités comptables"),
    ("H2909", "Montage-assemblage mécanique", "15412", "Monteur / Monteuse",
     "Monteur assembleur (H/F)", "mecanique montage", "28.29B", "Fabrication d'autres machines"),
]  # fmt: skip
PARTNERS = ["DIRECTEMPLOI", "MOOVIJOB", "HELLOWORK", "JOBINTREE", "LABONNEALTERNANCE"]
COMPANIES = ["EXEMPLE LOGICIELS", "BOULANGERIE DU CENTRE", "CLINIQUE DES LILAS", "LOGISTIQUE 3000",
             "RESTO & CO", "BATIR ENSEMBLE", "CABINET COMPTA+", "PROPRE NET SERVICES"]  # fmt: skip
HOSTILE = [
    '=HYPERLINK("http://evil.example","clic")', "+33 6 12 34 56 78", "-Urgent- Poste à pourvoir",
    "@Recrutement", "Dupont; Fils & Cie", 'Société "Les Guillemets"', "Ligne 1\r\nLigne 2",
    "Café&nbsp;&amp;&nbsp;Co", "Équipe 🚀 top ☕", "\tTabulé",
]  # fmt: skip
SALARIES = [
    "Annuel de 38000.0 Euros à 45000.0 Euros sur 12.0 mois", "Mensuel de 1710,00 Euros sur 12 mois",
    "Horaire de 12.0 Euros à 13.5 Euros sur 12.0 mois", "Annuel de 42000.0 Euros sur 13.0 mois",
]  # fmt: skip
_CONSONANTS = "BCDFGHJKLMNPQRSTVWXZ"


@dataclass
class FtDatasetConfig:
    offers: int = 25_000
    seed: int = 20261129
    heavy_departement: str = "75"
    heavy_share: float = 0.2
    no_departement_share: float = 0.08  # located at region or country level only
    partner_share: float = 0.3
    same_second_burst: int = 40  # offers created in one same second
    days: int = 60  # dateCreation spread over the last N days
    hostile_every: int = 53


@dataclass
class Offer:
    """One offer as served, plus the facts filters use."""

    data: dict[str, Any]
    created: datetime
    departement: str | None
    region: str | None
    nature: str
    experience: str
    qualification: str | None
    keywords: str
    commune: str | None = None
    lat: float | None = None
    lon: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def communes(rng: random.Random) -> list[dict[str, Any]]:
    """A small commune referential: a few communes per département, Paris arrondissements."""
    out = []
    for dep in DEPARTEMENT_NAMES:
        lat0, lon0 = rng.uniform(42.5, 50.5), rng.uniform(-4.0, 7.5)
        if dep.startswith("97"):
            lat0, lon0 = rng.uniform(-21.0, 16.5), rng.uniform(-61.8, 55.7)
        codes = (
            [f"751{n:02d}" for n in range(1, 21)]
            if dep == "75"
            else [f"{dep}{n:03d}" if len(dep) == 2 else f"{dep}{n:02d}" for n in range(1, 6)]
        )
        for i, code in enumerate(codes):
            name = (
                f"PARIS {i + 1:02d}" if dep == "75" else f"{DEPARTEMENT_NAMES[dep].upper()} {i + 1}"
            )
            postcode = (
                f"750{i + 1:02d}"
                if dep == "75"
                else (("20" if dep in ("2A", "2B") else dep) + f"{100 * (i + 1):03d}")[:5]
            )
            out.append({"code": code, "libelle": name, "codePostal": postcode, "codeDepartement": dep,
                        "lat": round(lat0 + rng.uniform(-0.3, 0.3), 6),
                        "lon": round(lon0 + rng.uniform(-0.3, 0.3), 6)})  # fmt: skip
    return out


def iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FtDataset:
    def __init__(self, config: FtDatasetConfig, now: datetime | None = None):
        self.config = config
        self.now = (now or datetime.now(UTC)).replace(microsecond=0)
        self.rng = random.Random(config.seed)
        self.communes = communes(self.rng)
        self.communes_by_dep: dict[str, list[dict]] = {}
        for c in self.communes:
            self.communes_by_dep.setdefault(c["codeDepartement"], []).append(c)
        self.offers: list[Offer] = []
        self.ids: set[str] = set()
        self.version = 0  # bumped on every change, for caches
        self.weights = {d: self.rng.uniform(0.3, 3.0) for d in DEPARTEMENT_NAMES}
        burst_at = self.now - timedelta(days=config.days // 3, seconds=17)
        for n in range(config.offers):
            created = burst_at.replace(microsecond=0) if n < config.same_second_burst else None
            self.offers.append(self.make_offer(n, created))

    def new_id(self, partner: bool) -> str:
        while True:
            if partner:
                candidate = f"{self.rng.randint(0, 9_999_999):07d}"
            else:
                candidate = f"{self.rng.randint(100, 240)}" + "".join(
                    self.rng.choice(_CONSONANTS) for _ in range(4)
                )
            if candidate not in self.ids:
                self.ids.add(candidate)
                return candidate

    def make_offer(self, n: int, created: datetime | None = None) -> Offer:
        cfg, rng = self.config, self.rng
        partner = rng.random() < cfg.partner_share
        offer_id = self.new_id(partner)
        rome, rome_label, app_code, app_label, title, keywords, naf, sector = rng.choice(JOBS)
        if created is None:
            created = self.now - timedelta(seconds=rng.uniform(60, cfg.days * 86400))
        updated = created + timedelta(seconds=rng.choice([0, 0, rng.uniform(0, 5 * 86400)]))
        updated = min(updated, max(self.now, created))
        hostile = cfg.hostile_every and n % cfg.hostile_every == 0
        r = rng.random()
        departement = region = commune = None
        lat = lon = None
        if r < cfg.no_departement_share:
            if rng.random() < 0.25:
                region = rng.choice(list(REGIONS))
                lieu: dict[str, Any] = {"libelle": REGIONS[region][0]}
            else:
                lieu = {"libelle": rng.choice(["France", "FRANCE", "France entière"])}
        else:
            if r < cfg.no_departement_share + cfg.heavy_share:
                departement = cfg.heavy_departement
            else:
                deps = list(self.weights)
                departement = rng.choices(deps, [self.weights[d] for d in deps])[0]
            region = DEPARTEMENT_REGION[departement]
            shape = rng.random()
            if shape < 0.06:
                lieu = {"libelle": f"{departement} - {DEPARTEMENT_NAMES[departement]}"}
            else:
                place = rng.choice(self.communes_by_dep[departement])
                commune, lat, lon = place["code"], place["lat"], place["lon"]
                lieu = {"libelle": f"{departement} - {place['libelle']}", "latitude": lat,
                        "longitude": lon, "codePostal": place["codePostal"], "commune": commune}  # fmt: skip
        type_contrat = rng.choices(list(TYPES_CONTRATS), [40, 30, 15, 5, 1, 2, 3, 1, 3])[0]
        nature = rng.choices(["E1", "E2", "FS", "NS", "I1", "CU"], [80, 8, 5, 3, 2, 2])[0]
        experience_code = rng.choice(["D", "S", "E"])
        experience = rng.choice(["0", "1", "2", "3", "4"]) if experience_code != "D" else "1"
        months = rng.choice([3, 6, 12, 18])
        data: dict[str, Any] = {
            "id": offer_id,
            "intitule": title,
            "description": self.description(title, partner),
            "dateCreation": iso_ms(created),
            "dateActualisation": iso_ms(updated),
            "lieuTravail": lieu,
            "romeCode": rome,
            "romeLibelle": rome_label,
            "appellationlibelle": app_label,
            "entreprise": {"entrepriseAdaptee": False},
            "typeContrat": type_contrat,
            "typeContratLibelle": (
                f"{TYPES_CONTRATS[type_contrat]} - {months} Mois"
                if type_contrat == "CDD"
                else rng.choice([type_contrat, TYPES_CONTRATS[type_contrat]])
            ),
            "natureContrat": NATURES_CONTRATS[nature],
            "experienceExige": experience_code,
            "experienceLibelle": "Débutant accepté"
            if experience_code == "D"
            else f"{experience} An(s)",
            "salaire": {},
            "dureeTravailLibelle": "35H/semaine\nTravail en journée",
            "dureeTravailLibelleConverti": rng.choice(["Temps plein"] * 4 + ["Temps partiel"]),
            "alternance": nature in ("E2", "FS"),
            "contact": {},
            "agence": {},
            "nombrePostes": rng.choice([1, 1, 1, 2, 3]),
            "accessibleTH": rng.random() < 0.2,
            "origineOffre": {
                "origine": "2" if partner else "1",
                "urlOrigine": DETAIL_URL + offer_id,
            },
            "offresManqueCandidats": rng.random() < 0.1,
        }
        if rng.random() < 0.56:
            data["entreprise"]["nom"] = rng.choice(COMPANIES)
        if rng.random() < 0.46:
            data["salaire"] = {"libelle": rng.choice(SALARIES)}
            if rng.random() < 0.3:
                data["salaire"]["complement1"] = "Titres restaurant / Prime de panier"
        qualification = None
        if rng.random() < 0.4:
            code = rng.choice(list(QUALIFICATIONS))
            data["qualificationCode"] = code
            data["qualificationLibelle"] = QUALIFICATIONS[code]
            qualification = "9" if code == "9" else "0"
        if rng.random() < 0.5:
            data["codeNAF"] = naf
            data["secteurActivite"] = naf[:2]
            data["secteurActiviteLibelle"] = sector
        if partner:
            name = rng.choice(PARTNERS)
            data["origineOffre"]["partenaires"] = [{
                "nom": name,
                "url": f"https://www.{name.lower()}.example/offre/{offer_id}?utm_source=pole-emploi",
                "logo": f"https://www.francetravail.fr/logos/img/partenaires/{name.lower()}80.png",
            }]  # fmt: skip
        if hostile:
            pick = n // cfg.hostile_every
            data["intitule"] = HOSTILE[pick % len(HOSTILE)] + " " + title
            data["entreprise"]["nom"] = HOSTILE[(pick + 3) % len(HOSTILE)]
        return Offer(data, created, departement, region, nature, experience, qualification,
                     f"{title} {rome_label} {app_label} {keywords}".lower(), commune, lat, lon,
                     {"app": app_code})  # fmt: skip

    def description(self, title: str, partner: bool) -> str:
        rng = self.rng
        text = (
            f"Nous recrutons : {title}.\n\nVos missions :\n- participer à l'activité de l'équipe ;\n"
            f"- {rng.choice(['accueillir les clients', 'assurer la qualité', 'suivre les dossiers'])}.\n\n"
            f"Profil : {rng.choice(['débutant accepté', '2 ans d’expérience', 'autonomie et rigueur'])}."
        )
        if partner:
            text = text.replace("'", "&#039;") + " Postulez &amp; rejoignez-nous !"
        return text[:5000]

    def publish(self) -> Offer:
        """An offer created right now (publications during a crawl)."""
        offer = self.make_offer(len(self.offers), datetime.now(UTC))
        self.offers.append(offer)
        self.version += 1
        return offer

    def withdraw(self, count: int) -> list[str]:
        """Withdraw ``count`` offers picked at random (a day of filled or expired offers)."""
        gone = set(self.rng.sample(range(len(self.offers)), min(count, len(self.offers))))
        ids = [self.offers[i].data["id"] for i in sorted(gone)]
        self.offers = [o for i, o in enumerate(self.offers) if i not in gone]
        self.version += 1
        return ids

    def evolve(self, withdraw: int = 0, update: int = 0, publish: int = 0) -> dict[str, list[str]]:
        """A day in the life of the stock: withdraw, then update, then publish offers, in
        that order so that each offer changes in one way only. Returns the ids by change."""
        withdrawn = self.withdraw(withdraw)
        updated = self.update(update)
        published = [self.publish().data["id"] for _ in range(publish)]
        return {"withdrawn": withdrawn, "updated": updated, "published": published}

    def update(self, count: int) -> list[str]:
        """Move the ``dateActualisation`` of ``count`` random offers to now (employer edits)."""
        now = iso_ms(datetime.now(UTC))
        picked = self.rng.sample(self.offers, min(count, len(self.offers)))
        for offer in picked:
            offer.data["dateActualisation"] = now
        self.version += 1
        return [o.data["id"] for o in picked]
