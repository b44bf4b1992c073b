"""Deterministic synthetic copy of the CPF catalogue (`moncompteformation_catalogueformation`).

Built from the field list and value domains the portal publishes for this dataset;
independent of the client code under test. Rows are tuples in dataset order;
long HTML texts come from a shared pool so 200 000 rows stay small in memory.

What it deliberately contains: one département (``heavy_departement``) above
10 000 rows when ``heavy_share × rows`` is, rows whose location is null,
formations offered in several départements (same ``numero_formation``), HTML in
the long texts, and hostile text (formula triggers, separators, quotes, CR/LF,
entities, emoji, non-breaking spaces) in some names and texts.

And rows as sparse as the real ones, at the rates measured on 200 real rows of the
dataset's export (each a knob of :class:`CpfDatasetConfig`): the location null on
78 % of RS rows and 15 % of RNCP rows (46 % in all), ``nom_of`` null on 9 %, the
hours (``nombre_heures_total_min/max/mean``, and so ``nbaction_nbheures``) 0 on
52 % (0 means "not given"), ``libelle_niveau_sortie_formation`` null on every RS
row, ``points_forts`` HTML on two rows in three and plain text (lines starting
with ``- `` on some) on the others.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

FIELDS: tuple[str, ...] = (
    "date_extract", "nom_of", "nom_departement", "nom_region", "type_referentiel",
    "code_inventaire", "code_rncp", "intitule_certification", "libelle_niveau_sortie_formation",
    "code_formacode_1", "code_formacode_2", "code_formacode_3", "code_formacode_4",
    "code_formacode_5", "libelle_code_formacode_principal", "code_rome_1", "code_rome_2",
    "code_rome_3", "code_rome_4", "code_rome_5", "libelle_nsf_1", "libelle_nsf_2",
    "libelle_nsf_3", "code_nsf_1", "code_nsf_2", "code_nsf_3", "code_certifinfo", "siret",
    "numero_formation", "intitule_formation", "points_forts", "objectif_formation",
    "contenu_formation", "resultats_attendus_formation", "nb_action", "nb_session_active",
    "nb_session_a_distance", "nombre_heures_total_min", "nombre_heures_total_max",
    "nombre_heures_total_mean", "frais_ttc_tot_min", "frais_ttc_tot_max", "frais_ttc_tot_mean",
    "code_departement", "code_region", "nbaction_nbheures", "coderegion_export",
)  # fmt: skip
assert len(FIELDS) == 47
INDEX = {name: i for i, name in enumerate(FIELDS)}

#: Column names of the other schema generation, served with ``schema="alias"``
#: (docs/api-opendatasoft.md, « Noms de colonnes et alias »).
ALIAS_NAMES = {"date_extract": "date_chargement", "code_inventaire": "code_rs", "siret": "siret_of"}

INT_FIELDS = frozenset({
    "code_rncp", "nb_action", "nb_session_active", "nb_session_a_distance",
    "nombre_heures_total_min", "nombre_heures_total_max", "nbaction_nbheures",
})  # fmt: skip
DOUBLE_FIELDS = frozenset({
    "nombre_heures_total_mean", "frais_ttc_tot_min", "frais_ttc_tot_max", "frais_ttc_tot_mean",
})  # fmt: skip
FACETS = (
    "nom_departement", "nom_region", "type_referentiel", "libelle_niveau_sortie_formation",
    "code_region",
)  # fmt: skip
TEXT_SEARCH_FIELDS = tuple(
    f for f in FIELDS if f not in INT_FIELDS and f not in DOUBLE_FIELDS and f != "date_extract"
)


def field_type(name: str) -> str:
    if name in INT_FIELDS:
        return "int"
    if name in DOUBLE_FIELDS:
        return "double"
    if name == "date_extract":
        return "date"
    return "text"


REGIONS = {
    "01": ("Guadeloupe", ["971"]), "02": ("Martinique", ["972"]), "03": ("Guyane", ["973"]),
    "04": ("La Réunion", ["974"]), "06": ("Mayotte", ["976"]),
    "11": ("Île-de-France", ["75", "77", "78", "91", "92", "93", "94", "95"]),
    "24": ("Centre-Val de Loire", ["18", "28", "36", "37", "41", "45"]),
    "27": ("Bourgogne-Franche-Comté", ["21", "25", "39", "58", "70", "71", "89", "90"]),
    "28": ("Normandie", ["14", "27", "50", "61", "76"]),
    "32": ("Hauts-de-France", ["02", "59", "60", "62", "80"]),
    "44": ("Grand Est", ["08", "10", "51", "52", "54", "55", "57", "67", "68", "88"]),
    "52": ("Pays de la Loire", ["44", "49", "53", "72", "85"]),
    "53": ("Bretagne", ["22", "29", "35", "56"]),
    "75": ("Nouvelle-Aquitaine",
           ["16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"]),
    "76": ("Occitanie",
           ["09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"]),
    "84": ("Auvergne-Rhône-Alpes",
           ["01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"]),
    "93": ("Provence-Alpes-Côte d'Azur", ["04", "05", "06", "13", "83", "84"]),
    "94": ("Corse", ["2A", "2B"]),
}  # fmt: skip
DEPARTEMENT_NAMES = {
    "01": "Ain", "02": "Aisne", "03": "Allier", "04": "Alpes-de-Haute-Provence",
    "05": "Hautes-Alpes", "06": "Alpes-Maritimes", "07": "Ardèche", "08": "Ardennes",
    "09": "Ariège", "10": "Aube", "11": "Aude", "12": "Aveyron", "13": "Bouches-du-Rhône",
    "14": "Calvados", "15": "Cantal", "16": "Charente", "17": "Charente-Maritime", "18": "Cher",
    "19": "Corrèze", "2A": "Corse-du-Sud", "2B": "Haute-Corse", "21": "Côte-d'Or",
    "22": "Côtes-d'Armor", "23": "Creuse", "24": "Dordogne", "25": "Doubs", "26": "Drôme",
    "27": "Eure", "28": "Eure-et-Loir", "29": "Finistère", "30": "Gard", "31": "Haute-Garonne",
    "32": "Gers", "33": "Gironde", "34": "Hérault", "35": "Ille-et-Vilaine", "36": "Indre",
    "37": "Indre-et-Loire", "38": "Isère", "39": "Jura", "40": "Landes", "41": "Loir-et-Cher",
    "42": "Loire", "43": "Haute-Loire", "44": "Loire-Atlantique", "45": "Loiret", "46": "Lot",
    "47": "Lot-et-Garonne", "48": "Lozère", "49": "Maine-et-Loire", "50": "Manche",
    "51": "Marne", "52": "Haute-Marne", "53": "Mayenne", "54": "Meurthe-et-Moselle",
    "55": "Meuse", "56": "Morbihan", "57": "Moselle", "58": "Nièvre", "59": "Nord",
    "60": "Oise", "61": "Orne", "62": "Pas-de-Calais", "63": "Puy-de-Dôme",
    "64": "Pyrénées-Atlantiques", "65": "Hautes-Pyrénées", "66": "Pyrénées-Orientales",
    "67": "Bas-Rhin", "68": "Haut-Rhin", "69": "Rhône", "70": "Haute-Saône",
    "71": "Saône-et-Loire", "72": "Sarthe", "73": "Savoie", "74": "Haute-Savoie", "75": "Paris",
    "76": "Seine-Maritime", "77": "Seine-et-Marne", "78": "Yvelines", "79": "Deux-Sèvres",
    "80": "Somme", "81": "Tarn", "82": "Tarn-et-Garonne", "83": "Var", "84": "Vaucluse",
    "85": "Vendée", "86": "Vienne", "87": "Haute-Vienne", "88": "Vosges", "89": "Yonne",
    "90": "Territoire de Belfort", "91": "Essonne", "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis", "94": "Val-de-Marne", "95": "Val-d'Oise", "971": "Guadeloupe",
    "972": "Martinique", "973": "Guyane", "974": "La Réunion", "976": "Mayotte",
}  # fmt: skip
DEPARTEMENT_REGION = {d: r for r, (_, deps) in REGIONS.items() for d in deps}

# (code, label as published — note the missing accents of the real data)
NSF = [
    ("326", "Informatique, traitement de l'information, réseaux de transmission"),
    ("331", "Santé"),
    ("330", "Spécialites plurivalentes sanitaires et sociales"),
    ("312", "Commerce, vente"),
    ("314", "Comptabilite, gestion"),
    ("333", "Enseignement, formation"),
    ("344", "Sécurité des biens et des personnes, police, surveillance"),
    ("311", "Transport, manutention, magasinage"),
    ("320", "Spécialites plurivalentes de la communication et de l'information"),
    ("336", "Coiffure, esthétique et autres spécialites de services aux personnes"),
    ("136", "Langues vivantes, civilisations étrangères et régionales"),
    ("231", "Mines et carrières, génie civil, topographie"),
]
#: Second specialities spread over every NSF sub-domain, so that a theme of each has rows.
#: Given without a random draw (by formation number): the rest of the data stays the same.
MORE_NSF = [
    ("100", "Formations generales"),
    ("114", "Mathématiques"),
    ("128", "Droit, sciences politiques"),
    ("133", "Musique, arts du spectacle"),
    ("201", "Technologies de commandes des transformations industrielles"),
    ("211", "Productions végétales, cultures spécialisées et protection des cultures"),
    ("221", "Agro-alimentaire, alimentation, cuisine"),
    ("232", "Bâtiment : construction et couverture"),
    ("242", "Habillement (y compris mode, couture)"),
    ("255", "Electricite, électronique"),
    ("300", "Spécialites plurivalentes des services"),
    ("313", "Finances, banque, assurances"),
    ("315", "Ressources humaines, gestion du personnel, gestion de l'emploi"),
    ("324", "Secrétariat, bureautique"),
    ("332", "Travail social"),
    ("334", "Accueil, hôtellerie, tourisme"),
    ("343", "Nettoyage, assainissement, protection de l'environnement"),
    ("413", "Développement des capacités comportementales et relationnelles"),
    ("423", "Vie familiale, vie sociale et autres formations au développement personnel"),
]
SUBJECTS = [
    ("Python pour l'analyse de données", "326", "31026", "M1805"),
    ("Développement web full stack", "326", "31054", "M1805"),
    ("Cybersécurité : les fondamentaux", "326", "31006", "M1802"),
    ("Data science et IA", "326", "31028", "M1405"),
    ("Aide-soignant : gestes d'urgence", "331", "43436", "J1501"),
    ("Sauveteur secouriste du travail", "344", "42829", "K2503"),
    ("Anglais professionnel (TOEIC)", "136", "15254", "M1601"),
    ("Comptabilité et paie", "314", "32663", "M1203"),
    ("Vente et relation client", "312", "34566", "D1402"),
    ("CACES R489 chariots", "311", "31812", "N1101"),
    ("Formateur professionnel d'adultes", "333", "44586", "K2111"),
    ("Esthétique et bien-être", "336", "42054", "D1208"),
    ("Community management", "320", "46324", "E1101"),
    ("Accompagnant éducatif et social", "330", "44028", "K1301"),
    ("Conduite de travaux BTP", "231", "22454", "F1201"),
]
LEVELS = [
    "Sans niveau spécifique", "Niveau 3 (CAP, BEP)", "Niveau 4 (BAC)", "Niveau 5 (BTS, DUT)",
    "Niveau 6 (Licence, BUT)", "Niveau 7 (Master)",
]  # fmt: skip
OF_NAMES = [
    "AFTRAL", "DATAFORGE ACADEMY", "CROIX-ROUGE COMPETENCE", "GRETA DU LITTORAL",
    "ORSYS", "M2I FORMATION", "CEGOS", "AFPA", "ENI SERVICE", "LANGUES ET CO",
    "INSTITUT DE FORMATION SANITAIRE", "BTP CFA", "ACADEMIE DU WEB", "O'CLOCK",
]  # fmt: skip

#: Text a spreadsheet or a CSV parser could choke on (names / titles).
HOSTILE_NAMES = [
    '=HYPERLINK("http://evil.example","clic")',
    "+33 1 23 45 67 89 FORMATION",
    "-Formation- à distance",
    "@Home Formation",
    "Dupont; Fils & Cie",
    'L\'atelier "Le Bon Code"',
    "Ligne 1\r\nLigne 2",
    "Café&nbsp;&amp;&nbsp;Code &lt;3",
    "Formation 🚀 Python ☕ 日本語",
    "Prix\u00a0:\u00a0500\u00a0€ TTC",
    "\tTabulé en tête",
    "Entit&eacute; &#233;l&egrave;ve",
    "=1+1",
    "-1",
    "  espaces   multiples  ",
    'Virgule, point-virgule; tabulation\tet "guillemets"',
]
HOSTILE_TEXTS = [
    "<p>=SUM(A1:A9)</p><p>Deuxième paragraphe</p>",
    "+ de 20 ans d'expérience\r\n- formateurs certifiés\r\n@ vous de jouer",
    "<ul><li>Module 1&nbsp;: bases</li><li>Module 2 &amp; projet</li></ul>\r\n<br/>Fin",
    'Texte brut ; avec "guillemets", virgules et\u00a0espaces insécables\u202f!',
    "<div>Emoji ✅ 🎓</div><script>alert(1)</script><p>Après le script</p>",
]

_PARAGRAPHS = [
    "Formateurs en activité, plateforme de travaux pratiques en ligne.",
    "Accompagnement individualisé et suivi post-formation pendant 3 mois.",
    "Petits groupes (8 stagiaires maximum) et salles équipées.",
    "Taux de réussite à la certification de 92 % en 2025.",
    "Financement CPF possible, devis sous 48 h.",
    "Alternance d'apports théoriques et de mises en situation réelles.",
]
_ITEMS = [
    "Rappels et fondamentaux", "Mise en pratique guidée", "Études de cas",
    "Projet fil rouge", "Préparation à l'évaluation", "Évaluation finale",
    "Outils et méthodes", "Réglementation applicable",
]  # fmt: skip


def _text_pool(rng: random.Random, size: int) -> list[str]:
    """HTML-ish long texts as published (``<p>``, ``<ul><li>``, entities), shared by rows."""
    pool = []
    for i in range(size):
        kind = i % 3
        if kind == 0:
            paras = rng.sample(_PARAGRAPHS, rng.randint(1, 4))
            pool.append("".join(f"<p>{p}</p>" for p in paras))
        elif kind == 1:
            items = rng.sample(_ITEMS, rng.randint(2, 6))
            intro = rng.choice(_PARAGRAPHS)
            pool.append(f"<p>{intro}</p><ul>" + "".join(f"<li>{x}</li>" for x in items) + "</ul>")
        elif i % 2:
            paras = rng.sample(_PARAGRAPHS, rng.randint(2, 5))
            pool.append("\n".join(paras).replace("%", "&#37;").replace("'", "&#039;"))
        else:  # plain text as some organisations type it: "- " lines
            paras = rng.sample(_PARAGRAPHS, rng.randint(2, 5))
            pool.append("\n".join("- " + p for p in paras))
        sep = "\n" if kind == 2 else ""
        pool[-1] = sep.join([pool[-1]] * rng.randint(1, 3))
    return pool


#: Rows of a located training, on average (the départements it is offered in).
ROWS_PER_TRAINING = 1.9


@dataclass
class CpfDatasetConfig:
    rows: int = 60_000
    seed: int = 20261128
    heavy_departement: str = "75"
    heavy_share: float = 0.2
    #: Share of rows without location, for RS and RNCP rows; ``null_location_share``, when
    #: given, is the share for both.
    null_location_share: float | None = None
    null_location_share_rs: float = 0.78
    null_location_share_rncp: float = 0.15
    null_nom_of_share: float = 0.09
    zero_hours_share: float = 0.52
    snapshot_date: str = "2026-11-28"
    duplicate_rows: int = 0
    rows_without_id: int = 0
    hostile_every: int = 37


class CpfDataset:
    """The rows, plus the ground truth tests compare the CSV against."""

    def __init__(self, config: CpfDatasetConfig):
        self.config = config
        self.rows: list[tuple] = []
        self._generate()

    def _generate(self) -> None:
        cfg = self.config
        rng = random.Random(cfg.seed)
        deps = [d for d in DEPARTEMENT_NAMES if d != cfg.heavy_departement]
        weights = [rng.uniform(0.3, 3.0) for _ in deps]
        pools = {name: _text_pool(rng, 60) for name in ("pf", "obj", "cont", "res")}
        sirets = [f"{rng.randint(10**8, 10**9 - 1)}{rng.randint(0, 99999):05d}" for _ in range(400)]
        formation = 0
        rows = self.rows
        # The sparseness of real rows comes from its own generator: the rest stays the same.
        sparse = random.Random(f"{cfg.seed}/sparse")
        while len(rows) < cfg.rows:
            formation += 1
            hostile = cfg.hostile_every and formation % cfg.hostile_every == 0
            siret = rng.choice(sirets)
            subject, nsf1, formacode, rome = rng.choice(SUBJECTS)
            nsf2 = rng.choice(NSF)[0] if rng.random() < 0.3 else None
            nsf3 = rng.choice(NSF)[0] if nsf2 and rng.random() < 0.3 else None
            if nsf2 is None and formation % 3 == 0:
                nsf2 = MORE_NSF[formation // 3 % len(MORE_NSF)][0]
            if rng.random() < 0.02:
                nsf1 = None
            rs = rng.random() < 0.55
            typ = None if rng.random() < 0.02 else ("RS" if rs else "RNCP")
            code_rs = str(rng.randint(1000, 7999))
            code_rncp = rng.randint(30000, 40999)
            certification = (
                f"{subject} — certification {'RS' if rs else 'RNCP'}{code_rs if rs else code_rncp}"
            )
            nom_of = rng.choice(OF_NAMES) + ("" if rng.random() < 0.7 else f" {siret[-4:]}")
            if sparse.random() < cfg.null_nom_of_share:
                nom_of = None
            intitule = f"{subject} (session {formation % 97 + 1})"
            texts = [rng.choice(pools[k]) for k in ("pf", "obj", "cont", "res")]
            if hostile:
                pick = formation // cfg.hostile_every
                nom_of = HOSTILE_NAMES[pick % len(HOSTILE_NAMES)]
                intitule = HOSTILE_NAMES[(pick + 5) % len(HOSTILE_NAMES)] + " " + subject
                texts[pick % 4] = HOSTILE_TEXTS[pick % len(HOSTILE_TEXTS)]
            numero = f"{siret}_{formation:07d}-{'RS' + code_rs if rs else 'RNCP' + str(code_rncp)}"
            hours_min = rng.choice([7, 14, 21, 35, 70, 140, 400])
            hours_max = hours_min * rng.choice([1, 1, 2, 3])
            hours_given = sparse.random() >= cfg.zero_hours_share
            if cfg.null_location_share is not None:
                null_share = cfg.null_location_share
            else:
                null_share = cfg.null_location_share_rs if rs else cfg.null_location_share_rncp
            price_min = round(rng.uniform(300, 6000), rng.choice([0, 1, 2]))
            price_max = round(price_min * rng.uniform(1.0, 2.5), 2)
            nsf_labels = dict(NSF + MORE_NSF)
            spread = rng.random()
            n_deps = (
                1 if spread < 0.7 else (rng.randint(2, 5) if spread < 0.95 else rng.randint(6, 12))
            )
            # A training without a place is one row without département (distance learning);
            # the others have a row per département. A located training having
            # ROWS_PER_TRAINING rows on average, this share of placeless trainings gives
            # ``null_share`` of the rows.
            placeless = sparse.random() < null_share * ROWS_PER_TRAINING / (
                1 - null_share + null_share * ROWS_PER_TRAINING
            )
            used: set[str | None] = set()
            for _ in range(1 if placeless else n_deps):
                r = rng.random()
                if placeless:
                    dep = None
                elif r < cfg.heavy_share:
                    dep = cfg.heavy_departement
                else:
                    dep = rng.choices(deps, weights)[0]
                if dep in used:
                    continue
                used.add(dep)
                region = DEPARTEMENT_REGION[dep] if dep else None
                nb_action = rng.randint(1, 6)
                level = rng.choice(LEVELS)  # drawn for RS rows too: the rest stays the same
                rows.append((
                    cfg.snapshot_date,
                    nom_of,
                    DEPARTEMENT_NAMES[dep] if dep else None,
                    REGIONS[region][0] if region else None,
                    typ,
                    code_rs if rs else "-1",
                    -1 if rs else code_rncp,
                    certification,
                    None if rs else level,
                    formacode,
                    str(int(formacode) + 1) if rng.random() < 0.5 else None,
                    None, None, None,
                    f"libellé formacode {formacode}",
                    rome,
                    rng.choice(["M1403", "M1810", "K2111"]) if rng.random() < 0.4 else None,
                    None, None, None,
                    nsf_labels.get(nsf1) if nsf1 else None,
                    nsf_labels.get(nsf2) if nsf2 else None,
                    nsf_labels.get(nsf3) if nsf3 else None,
                    nsf1, nsf2, nsf3,
                    str(rng.randint(100000, 120000)) if rng.random() < 0.8 else "-1",
                    siret,
                    numero,
                    intitule,
                    *texts,
                    nb_action,
                    rng.randint(nb_action, nb_action * 3),
                    rng.randint(0, nb_action),
                    hours_min if hours_given else 0,
                    hours_max if hours_given else 0,
                    round((hours_min + hours_max) / 2 + rng.choice([0, 0.5]), 1)
                    if hours_given else 0.0,
                    float(price_min),
                    float(price_max),
                    round((price_min + price_max) / 2, 2),
                    dep,
                    region,
                    nb_action * hours_max if hours_given else 0,
                    region,
                ))  # fmt: skip
                if len(rows) >= cfg.rows:
                    break
        for _ in range(cfg.rows_without_id):
            i = rng.randrange(len(rows))
            row = list(rows[i])
            row[INDEX["numero_formation"]] = None
            rows[i] = tuple(row)
        for _ in range(cfg.duplicate_rows):
            rows.insert(rng.randrange(len(rows)), rows[rng.randrange(len(rows))])

    # ------------------------------------------------------------ truth

    def keys(self) -> set[tuple[str, str]]:
        """The (numero_formation, code_departement) pairs a complete extraction must hold."""
        i, j = INDEX["numero_formation"], INDEX["code_departement"]
        return {(r[i], r[j] or "") for r in self.rows if r[i]}

    def count_by(self, name: str) -> dict:
        i = INDEX[name]
        counts: dict = {}
        for row in self.rows:
            counts[row[i]] = counts.get(row[i], 0) + 1
        return counts


def record_id(row: tuple) -> str:
    key = f"{row[INDEX['numero_formation']]}|{row[INDEX['code_departement']]}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()  # noqa: S324 - an id, not security
