"""Deterministic synthetic job offers shaped like France Travail's « Offres d'emploi v2 ».

Field names and value styles follow the offer object as described in
docs/api-francetravail.md, « L'offre et les colonnes de cpfft ».

Independent of the client code under test. Offers are plain dicts, as the API
serialises them (absent fields omitted, never null). Alongside each offer the
generator keeps the hidden facts the search filters work on (département,
region, nature code, experience bucket…), in :class:`Offer`.

What it deliberately contains: one département (``heavy_departement``) holding
far more than 3 150 offers, offers located only at region or country level,
partner offers (origin 2), missing employer names and salaries, hostile text
(formula triggers, separators, CR/LF, emoji), and a burst of offers created in
the very same second.

And what real offers contain, at the rates measured on 1 133 offers recorded from
the real search API (each a knob of :class:`FtDatasetConfig`, its default the real
rate): partner offers with their own URL (81 %), the ROME appellation, the
apprenticeship flag and the number of positions (all), the qualification (28 %),
lists of skills (14 %), professional qualities (10 %), trainings (9 %), languages
(4 %) and driving licences (3 %), the employer's description (57 %, HTML in some),
an application URL (6 %) beside contacts that name a recruiter (personal data the
client must drop), salaries given only as a comment (5.4 %) or with a comment or
complements beside the label (11 %), places that are a region or "France" (14 %),
a département code alone (1.4 %), latitude and longitude swapped (2.6 % of located
offers); and dirt in the texts: Windows-1252 control characters (0.3 %), tags
whose "<" was lost (2 %), double-encoded entities (0.1 %), ordinary entities
(8.5 %), blank lines between paragraphs (41 %). What the emulator made of each
offer is kept beside it (:attr:`Offer.dirt`, the true place), for the tests.

Descriptions have the length of real ones (median about 2 500 characters, never
more than the API's 5 000): French job-ad prose in sections (company, missions,
profile, skills, benefits, hours, recruitment process) with line breaks and
``- `` list items, assembled from a pool of sentences shuffled once per dataset.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
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
#: Salaries real offers give only as a comment (no libelle): readable ones and others.
SALARY_COMMENTS = [
    "Entre 12 et 14€ brut", "Rémunération : 26/27 K / an", "A négocier", "Selon profil",
    "1800 € brut mensuel", "De 35 à 40 k€ annuels", "11,88 € de l'heure", "Selon expérience",
    "2 100 euros bruts par mois", "SMIC + primes",
]  # fmt: skip
#: Comments and complements real offers give beside a salary libelle.
SALARY_EXTRAS = ["Selon expérience", "Primes", "Participation/action", "Prime de panier",
                 "Titres restaurant / Prime de panier", "13ème mois", "Mutuelle"]  # fmt: skip
#: ROME skills (code, label), a few per job family (JOBS order).
SKILLS = {
    "M1805": [("124137", "Concevoir une application web"), ("120775", "Analyser les besoins du client"),
              ("123813", "Rédiger des spécifications techniques"), ("108712", "Programmer en Python")],
    "M1811": [("126543", "Concevoir un entrepôt de données"), ("120775", "Analyser les besoins du client"),
              ("125221", "Exploiter des bases de données (SQL)"), ("108712", "Programmer en Python")],
    "M1855": [("124137", "Concevoir une application web"), ("117280", "Intégrer une maquette (HTML, CSS)"),
              ("120775", "Analyser les besoins du client")],
    "J1501": [("122321", "Réaliser des soins d'hygiène et de confort"), ("104126", "Surveiller l'état de santé du patient"),
              ("100224", "Accueillir une personne âgée")],
    "D1106": [("101740", "Conseiller un client"), ("118416", "Tenir une caisse"), ("120543", "Mettre en rayon")],
    "N1103": [("103138", "Préparer des commandes"), ("111520", "Conduire un chariot élévateur (CACES)"),
              ("122640", "Contrôler une livraison")],
    "K2204": [("117544", "Nettoyer des locaux"), ("123000", "Utiliser des produits d'entretien")],
    "G1602": [("117865", "Préparer des plats"), ("122655", "Appliquer les règles d'hygiène (HACCP)")],
    "M1607": [("123455", "Accueillir et orienter le public"), ("117912", "Utiliser un traitement de texte")],
    "F1703": [("105632", "Monter des murs en maçonnerie"), ("112009", "Lire un plan")],
    "M1203": [("124980", "Saisir des écritures comptables"), ("117209", "Établir des déclarations fiscales")],
    "H2909": [("112009", "Lire un plan"), ("119330", "Monter des ensembles mécaniques")],
}  # fmt: skip
QUALITIES = [
    ("Autonomie", "Capacité à prendre en charge son activité sans devoir être encadré de façon continue"),
    ("Sens de l'organisation", "Capacité à planifier, à prioriser, à anticiper des actions en tenant compte des moyens"),
    ("Travail en équipe", "Capacité à travailler avec d'autres personnes, à partager ses informations"),
    ("Rigueur", "Capacité à respecter les règles, les procédures, les délais"),
    ("Capacité d'adaptation", "Capacité à s'adapter à des situations variées et à s'ajuster aux changements"),
    ("Réactivité", "Capacité à agir rapidement et de manière adaptée face à une situation imprévue"),
]  # fmt: skip
TRAINING_LEVELS = ["CAP, BEP et équivalents", "Bac ou équivalent", "Bac+2 ou équivalents",
                   "Bac+3, Bac+4 ou équivalents", "Bac+5 et plus ou équivalents"]  # fmt: skip
TRAINING_FIELDS = [("31026", "Data science"), ("31054", "Informatique"), ("32663", "Comptabilité"),
                   ("43436", "Soins infirmiers"), ("31812", "Logistique"), ("22454", "Bâtiment")]  # fmt: skip
LANGUAGES = ["Anglais", "Allemand", "Espagnol", "Italien", "Anglais Bon niveau"]
LICENCES = ["B - Véhicule léger", "C - Poids lourd", "BE - Véhicule léger + remorque",
            "CE - Poids lourd + remorque"]  # fmt: skip
EMPLOYER_TEXTS = [
    "Entreprise familiale de 45 salariés, implantée dans la région depuis 1987.",
    "<p>Filiale d'un groupe national, nous accompagnons <strong>plus de 300 clients</strong>.</p><p>Rejoignez-nous !</p>",
    "Acteur reconnu de son secteur, l'entreprise investit dans la formation de ses salariés.",
    "<p>Association d'aide à domicile</p><ul><li>120 salariés</li><li>5 agences</li></ul>",
]  # fmt: skip
RECRUITERS = [
    {"nom": "Mme Marie Dupont", "courriel": "marie.dupont@exemple-recrutement.fr",
     "telephone": "06 12 34 56 78", "coordonnees1": "12 rue des Lilas", "coordonnees2": "33600 PESSAC"},
    {"nom": "M. Jean Martin - Responsable RH", "telephone": "05 56 00 00 00"},
    {"nom": "CABINET EXEMPLE RH", "courriel": "candidatures@cabinet-exemple.fr"},
]  # fmt: skip
#: Sentences whose apostrophe and œ come as Windows-1252 control characters (U+0092, U+009C),
#: with the text a reader expects.
C1_SENTENCES = [
    ("Vous évoluerez dans un contexte tourné vers l\u0092international.",
     "Vous évoluerez dans un contexte tourné vers l’international."),
    ("Vous participerez à la mise en \u009cuvre des procédures d\u0092utilisation\u0085",
     "Vous participerez à la mise en œuvre des procédures d’utilisation…"),
]  # fmt: skip
#: Tag fragments whose "<" was lost, glued to the next section: "procéduresp>Pré-requis".
FRAGMENTS = ["p>", "br />", "/p>", "br>"]
DOUBLE_ENTITY = ("Vous serez rattach&amp;eacute;(e) au responsable d&amp;#039;équipe.",
                 "Vous serez rattaché(e) au responsable d'équipe.")  # fmt: skip
#: A point inside each département (the centroid of its largest land outline, from IGN's
#: Admin Express COG 2018 outlines simplified by the france-geojson project, Licence
#: Ouverte): communes are placed within a few kilometres of it.
DEPARTEMENT_CENTRES: dict[str, tuple[float, float]] = {
    "01": (46.1, 5.349), "02": (49.561, 3.559), "03": (46.394, 3.188), "04": (44.106, 6.245),
    "05": (44.664, 6.265), "06": (43.938, 7.116), "07": (44.753, 4.426), "08": (49.616, 4.641),
    "09": (42.921, 1.504), "10": (48.305, 4.161), "11": (43.103, 2.414), "12": (44.281, 2.679),
    "13": (43.543, 5.086), "14": (49.1, -0.362), "15": (45.051, 2.669), "16": (45.719, 0.203),
    "17": (45.766, -0.654), "18": (47.066, 2.491), "19": (45.357, 1.878), "2A": (41.864, 8.987),
    "2B": (42.395, 9.206), "21": (47.426, 4.773), "22": (48.44, -2.865), "23": (46.091, 2.018),
    "24": (45.105, 0.741), "25": (47.166, 6.363), "26": (44.679, 5.164), "27": (49.114, 0.996),
    "28": (48.388, 1.37), "29": (48.261, -4.057), "30": (43.994, 4.18), "31": (43.359, 1.175),
    "32": (43.693, 0.453), "33": (44.839, -0.583), "34": (43.579, 3.369), "35": (48.151, -1.634),
    "36": (46.778, 1.576), "37": (47.258, 0.691), "38": (45.264, 5.574), "39": (46.729, 5.697),
    "40": (43.966, -0.784), "41": (47.617, 1.428), "42": (45.728, 4.165), "43": (45.128, 3.806),
    "44": (47.363, -1.679), "45": (47.912, 2.344), "46": (44.625, 1.606), "47": (44.368, 0.461),
    "48": (44.517, 3.5), "49": (47.39, -0.559), "50": (49.081, -1.329), "51": (48.95, 4.239),
    "52": (48.11, 5.226), "53": (48.147, -0.657), "54": (48.788, 6.162), "55": (48.991, 5.381),
    "56": (47.855, -2.804), "57": (49.038, 6.661), "58": (47.116, 3.504), "59": (50.449, 3.216),
    "60": (49.41, 2.425), "61": (48.623, 0.128), "62": (50.493, 2.289), "63": (45.726, 3.14),
    "64": (43.257, -0.758), "65": (43.051, 0.166), "66": (42.599, 2.521), "67": (48.671, 7.552),
    "68": (47.859, 7.274), "69": (45.871, 4.641), "70": (47.641, 6.087), "71": (46.645, 4.543),
    "72": (47.995, 0.223), "73": (45.478, 6.443), "74": (46.035, 6.428), "75": (48.857, 2.343),
    "76": (49.655, 1.027), "77": (48.627, 2.934), "78": (48.815, 1.841), "79": (46.557, -0.318),
    "80": (49.958, 2.276), "81": (43.786, 2.166), "82": (44.086, 1.282), "83": (43.444, 6.244),
    "84": (43.994, 5.185), "85": (46.673, -1.288), "86": (46.565, 0.459), "87": (45.892, 1.235),
    "88": (48.196, 6.38), "89": (47.841, 3.563), "90": (47.632, 6.929), "91": (48.523, 2.243),
    "92": (48.848, 2.246), "93": (48.918, 2.478), "94": (48.777, 2.469), "95": (49.083, 2.131),
    "971": (16.159, -61.68), "972": (14.653, -61.019), "973": (3.923, -53.235),
    "974": (-21.133, 55.533), "976": (-12.823, 45.144),
}  # fmt: skip
_CONSONANTS = "BCDFGHJKLMNPQRSTVWXZ"

# --- description prose. Each section: (heading, sentences, list items?, share of the length).
# A description is assembled by taking a run of consecutive sentences from one of a few
# shuffled orders of each pool, as many as the section's share of the target length needs.
_ENTREPRISE = [
    "Notre entreprise, implantée dans la région depuis plus de vingt ans, accompagne une clientèle de particuliers et de professionnels.",
    "Nous sommes une structure à taille humaine de 45 salariés, reconnue pour la qualité de son service et la stabilité de ses équipes.",
    "Filiale d'un groupe national, notre établissement connaît une forte croissance et renforce ses équipes pour accompagner son développement.",
    "Entreprise familiale créée en 1987, nous avons su conserver un esprit d'équipe et une proximité avec nos clients qui font notre force.",
    "Nous intervenons auprès de collectivités, d'entreprises et d'associations sur l'ensemble du département et des départements limitrophes.",
    "Engagée dans une démarche RSE, l'entreprise est signataire de la charte de la diversité et attentive à la qualité de vie au travail.",
    "Notre site compte aujourd'hui trois ateliers, un entrepôt de 4 000 m² et un service administratif regroupé dans des locaux récents.",
    "Le poste est à pourvoir au sein d'une équipe de huit personnes, encadrée par un responsable présent sur site au quotidien.",
    "Nous privilégions la promotion interne : la plupart de nos responsables d'équipe ont commencé chez nous à un poste opérationnel.",
    "Notre chiffre d'affaires progresse chaque année et nous ouvrons un nouvel établissement au printemps prochain.",
    "L'établissement accueille chaque jour plusieurs centaines de clients dans un cadre convivial et soigné.",
    "Nous travaillons avec des fournisseurs locaux et attachons une grande importance à la qualité des produits et du service rendu.",
    "Certifiée ISO 9001, l'entreprise place la sécurité des personnes et la satisfaction de ses clients au cœur de son organisation.",
    "Vous rejoindrez une équipe dynamique et bienveillante, où l'entraide et la transmission des savoir-faire font partie du quotidien.",
    "Nos locaux sont accessibles en transports en commun et disposent d'un parking gratuit pour le personnel.",
    "Le groupe emploie plus de 1 200 collaborateurs en France et propose de réelles perspectives d'évolution.",
    "Nous sommes une association loi 1901 dont la mission est l'accompagnement des publics fragiles vers l'autonomie.",
    "Acteur reconnu de son secteur, l'entreprise investit régulièrement dans des équipements modernes et dans la formation de ses salariés.",
    "L'agence gère un portefeuille d'environ 300 clients fidèles, dont plusieurs grands comptes régionaux.",
    "Dans le cadre d'un départ à la retraite, nous recherchons la personne qui reprendra le poste après une période de tuilage.",
]
_MISSIONS = [
    "accueillir, renseigner et orienter les clients sur place et au téléphone",
    "préparer les commandes dans le respect des délais et des règles d'hygiène et de sécurité",
    "assurer le suivi administratif des dossiers et la mise à jour des tableaux de bord",
    "contrôler la conformité des livraisons et signaler les anomalies au responsable",
    "participer à l'inventaire mensuel et à la gestion des stocks",
    "entretenir le matériel et veiller à la propreté de votre espace de travail",
    "appliquer les procédures qualité et renseigner les fiches de traçabilité",
    "travailler en lien étroit avec les autres services pour garantir la continuité de l'activité",
    "proposer des améliorations de l'organisation et des outils utilisés par l'équipe",
    "rédiger les comptes rendus d'intervention et transmettre les informations utiles à l'équipe suivante",
    "conseiller les clients sur les produits et services adaptés à leurs besoins",
    "réaliser les encaissements et la clôture de caisse en fin de journée",
    "planifier les interventions de la semaine en fonction des priorités fixées",
    "assurer la mise en place et le rangement du poste en début et en fin de service",
    "former et accompagner les nouveaux arrivants sur les gestes et outils du métier",
    "respecter les consignes de sécurité et porter les équipements de protection fournis",
    "gérer les réclamations avec tact et rechercher des solutions satisfaisantes",
    "mettre à jour les informations dans le logiciel métier de l'entreprise",
    "participer aux réunions d'équipe hebdomadaires et aux projets d'amélioration continue",
    "réceptionner les marchandises, vérifier les bons de livraison et ranger les produits",
    "effectuer les contrôles de premier niveau et alerter en cas de dysfonctionnement",
    "assurer le lien avec les prestataires extérieurs et suivre leurs interventions",
    "préparer et animer des points réguliers avec votre responsable",
    "contribuer à la bonne image de l'entreprise auprès de ses clients et partenaires",
    "veiller au respect des délais et des engagements pris auprès des clients",
    "tenir à jour le planning partagé et les indicateurs d'activité",
]
_PROFIL = [
    "vous êtes titulaire d'un diplôme de niveau CAP à Bac dans le domaine ou d'une expérience équivalente",
    "vous êtes reconnu(e) pour votre sens du service, votre ponctualité et votre fiabilité",
    "vous aimez le travail en équipe et savez faire preuve d'initiative",
    "vous êtes organisé(e), rigoureux(se) et capable de gérer plusieurs tâches à la fois",
    "une première expérience sur un poste similaire serait un plus, mais les débutants motivés sont les bienvenus",
    "vous avez le goût du contact et une bonne aisance relationnelle",
    "vous savez vous adapter aux imprévus et garder votre calme dans les situations d'urgence",
    "le permis B est souhaité pour les déplacements ponctuels entre nos sites",
    "vous êtes à l'aise avec les outils informatiques courants (messagerie, tableur, logiciel métier)",
    "votre capacité d'écoute et votre bienveillance seront appréciées",
    "vous êtes curieux(se) et souhaitez progresser dans un environnement exigeant",
    "vous êtes disponible rapidement et prêt(e) à vous investir sur la durée",
    "la maîtrise de l'anglais à l'oral serait un atout pour échanger avec certains clients",
    "vous respectez la confidentialité des informations qui vous sont confiées",
    "vous avez une bonne condition physique : le poste implique des stations debout prolongées",
    "vous savez rendre compte de votre activité de façon claire et régulière",
]
_COMPETENCES = [
    "Savoir appliquer les règles d'hygiène et de sécurité en vigueur dans l'établissement.",
    "Connaître les techniques de base du métier et les gestes professionnels associés.",
    "Savoir utiliser un logiciel de gestion et saisir des informations avec exactitude.",
    "Capacité à travailler en autonomie comme en équipe, selon l'organisation du service.",
    "Aptitude à hiérarchiser les priorités et à respecter un planning.",
    "Qualités rédactionnelles pour les comptes rendus et les échanges écrits avec les clients.",
    "Connaissance des normes qualité et des procédures de traçabilité.",
    "Sens de l'observation et capacité à repérer rapidement une anomalie.",
    "Maîtrise des outils bureautiques : traitement de texte, tableur et messagerie.",
    "Capacité à transmettre son savoir-faire et à accompagner un collègue débutant.",
    "Savoir adapter sa communication à des interlocuteurs variés.",
    "Une habilitation ou un certificat spécifique au métier serait apprécié.",
    "Connaissance des règles de base en matière de gestes et postures.",
    "Rigueur dans la gestion des documents et le classement des dossiers.",
]
_AVANTAGES = [
    "une rémunération selon profil et expérience, avec prime annuelle sur objectifs",
    "des titres-restaurant d'une valeur de 9 euros, pris en charge à 60 % par l'employeur",
    "une mutuelle d'entreprise prise en charge à 50 % et une prévoyance",
    "le remboursement de 50 % de l'abonnement aux transports en commun",
    "un parcours d'intégration d'une semaine avec un tuteur dédié",
    "des formations régulières pour développer vos compétences et évoluer",
    "un comité social et économique proposant chèques-vacances et réductions",
    "des horaires stables permettant de concilier vie professionnelle et vie personnelle",
    "la possibilité d'évoluer vers un poste de référent ou de chef d'équipe",
    "une prime d'intéressement et de participation versée chaque année",
    "des tenues de travail fournies et entretenues par l'entreprise",
    "un treizième mois versé en fin d'année après la période d'essai",
    "une journée de télétravail par semaine lorsque le poste le permet",
    "un forfait mobilités durables pour les trajets à vélo",
    "des locaux récents, climatisés et un espace de pause équipé",
]
_HORAIRES = [
    "Le poste est à pourvoir en contrat de 35 heures hebdomadaires, du lundi au vendredi.",
    "Les horaires sont répartis en journée, avec une amplitude de 8 h à 18 h selon le planning.",
    "Un samedi matin travaillé par mois, récupéré dans la semaine suivante.",
    "Les horaires peuvent varier en fonction de l'activité, notamment en période de forte affluence.",
    "Travail en équipes alternées (matin 6 h - 13 h, après-midi 13 h - 20 h), une semaine sur deux.",
    "La pause méridienne est d'une heure, avec possibilité de déjeuner sur place.",
    "Des heures supplémentaires peuvent être proposées ponctuellement ; elles sont rémunérées ou récupérées.",
    "Le poste est basé sur notre site principal, avec des déplacements occasionnels dans le département.",
    "Période d'essai de deux mois, renouvelable une fois selon la convention collective applicable.",
    "Prise de poste souhaitée dès que possible ; une date ultérieure peut être étudiée.",
    "Les congés sont posés en concertation avec l'équipe, avec une fermeture annuelle de deux semaines en août.",
    "Travail ponctuel le week-end et les jours fériés selon un roulement établi à l'avance.",
]
_PROCESSUS = [
    "Si votre candidature est retenue, un premier échange téléphonique vous sera proposé.",
    "Un entretien sur site avec le responsable du service permettra ensuite de faire connaissance et de visiter les locaux.",
    "Une mise en situation professionnelle d'une demi-journée pourra être organisée.",
    "Nous nous engageons à répondre à chaque candidature dans un délai de quinze jours.",
    "Merci d'adresser votre CV accompagné de quelques lignes de motivation.",
    "Le recrutement peut se faire par la méthode de recrutement par simulation, sans CV ni diplôme exigé.",
    "Ce poste est ouvert à toutes et à tous, et accessible aux personnes en situation de handicap.",
    "Les candidatures sont étudiées au fil de l'eau : n'attendez pas pour postuler.",
    "Une aide au logement peut être étudiée pour les candidats venant d'une autre région.",
    "Vous pouvez également vous présenter directement à l'accueil de l'établissement, muni(e) de votre CV.",
]
DESCRIPTION_SECTIONS = [
    ("Qui sommes-nous ?", _ENTREPRISE, False, 0.19),
    ("Vos missions :", _MISSIONS, True, 0.26),
    ("Votre profil :", _PROFIL, True, 0.18),
    ("Compétences attendues :", _COMPETENCES, False, 0.1),
    ("Nous vous proposons :", _AVANTAGES, True, 0.12),
    ("Horaires et conditions :", _HORAIRES, False, 0.09),
    ("Modalités de recrutement :", _PROCESSUS, False, 0.06),
]
DESCRIPTION_MAX = 5000  # the API truncates descriptions to 5 000 characters
DESCRIPTION_MEDIAN = 2500
BUDGET_SCALE = 0.75
PARTNER_SUFFIX = " Postulez &amp; rejoignez-nous !"


@dataclass
class FtDatasetConfig:
    offers: int = 25_000
    seed: int = 20261129
    heavy_departement: str = "75"
    heavy_share: float = 0.2
    no_departement_share: float = 0.14  # located at region or country level only
    partner_share: float = 0.81
    same_second_burst: int = 40  # offers created in one same second
    days: int = 60  # dateCreation spread over the last N days
    hostile_every: int = 53
    # What real offers carry, at the rates measured on recorded offers (see the module doc).
    appellation_share: float = 0.98
    qualification_share: float = 0.28
    skills_share: float = 0.14
    qualities_share: float = 0.10
    trainings_share: float = 0.09
    languages_share: float = 0.04
    licences_share: float = 0.03
    employer_text_share: float = 0.57
    apply_url_share: float = 0.06
    recruiter_share: float = 0.25  # a contact naming a recruiter: personal data
    salary_share: float = 0.46  # a salary libelle
    salary_comment_only_share: float = 0.054
    salary_extras_share: float = 0.11  # a comment or complements beside the libelle
    departement_only_label_share: float = 0.017  # of located offers (1.4 % of all): "69" alone
    swapped_share: float = 0.026  # of located offers
    c1_share: float = 0.003
    fragment_share: float = 0.02
    double_entity_share: float = 0.001
    entity_share: float = 0.085
    blank_lines_share: float = 0.41
    # The dataset's clock, yyyy-MM-ddTHH:mm:ssZ (UTC): offers are created in the `days` before
    # it. Empty = the current time. Fixing it pins dates to known seasons (summer/winter time).
    now: str = ""


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
    #: The realism patterns put in this offer ("swapped", "c1", "fragment", "entity"…).
    dirt: set[str] = field(default_factory=set)


def communes(rng: random.Random) -> list[dict[str, Any]]:
    """A small commune referential: a few communes per département, Paris arrondissements."""
    out = []
    for dep in DEPARTEMENT_NAMES:
        lat0, lon0 = DEPARTEMENT_CENTRES[dep]
        spread = 0.02 if dep in ("75", "92", "93", "94") else 0.05  # Paris is small
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
                        "lat": round(lat0 + rng.uniform(-spread, spread), 6),
                        "lon": round(lon0 + rng.uniform(-spread, spread), 6)})  # fmt: skip
    return out


def description_sections(rng: random.Random) -> list[list[tuple[list[str], list[int]]]]:
    """For each description section, a few shuffled orders of its sentences.

    Each order is stored twice in a row (so that a run may wrap around) with the running
    total of the lengths, so that a description takes a run of the right length with one
    bisection instead of character-by-character work.
    """
    out = []
    for _, sentences, bullets, _ in DESCRIPTION_SECTIONS:
        orders = []
        for _ in range(6):
            order = list(sentences)
            rng.shuffle(order)
            doubled = order + order
            glue = 4 if bullets else 1  # "- " … " ;\n" or " "
            orders.append((doubled, list(accumulate((len(x) + glue for x in doubled), initial=0))))
        out.append(orders)
    return out


def iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FtDataset:
    def __init__(self, config: FtDatasetConfig, now: datetime | None = None):
        self.config = config
        if now is None and config.now:
            now = datetime.strptime(config.now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        self.now = (now or datetime.now(UTC)).replace(microsecond=0)
        self.rng = random.Random(config.seed)
        # Descriptions draw from their own generator (seeded from the dataset seed), so that
        # their length leaves every other field of every offer as the main generator makes it.
        self.text_rng = random.Random(f"{config.seed}/descriptions")
        # And what real offers carry beyond (lists, dirt…) from a third: knobs at 0 leave
        # every other field as the main generator makes it.
        self.real_rng = random.Random(f"{config.seed}/real")
        self.sections = description_sections(self.text_rng)
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
        cfg, rng, real = self.config, self.rng, self.real_rng
        partner = rng.random() < cfg.partner_share
        offer_id = self.new_id(partner)
        rome, rome_label, app_code, app_label, title, keywords, naf, sector = rng.choice(JOBS)
        if created is None:
            created = self.now - timedelta(seconds=rng.uniform(60, cfg.days * 86400))
        updated = created + timedelta(seconds=rng.choice([0, 0, rng.uniform(0, 5 * 86400)]))
        updated = min(updated, max(self.now, created))
        hostile = cfg.hostile_every and n % cfg.hostile_every == 0
        dirt: set[str] = set()
        r = rng.random()
        departement = region = commune = None
        lat = lon = None
        if r < cfg.no_departement_share:
            if rng.random() < 0.5:
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
                label = f"{departement} - {place['libelle']}"
                if real.random() < cfg.departement_only_label_share:
                    label = departement  # "69" alone, the commune's code beside it
                    dirt.add("departement_only")
                lieu = {"libelle": label, "latitude": lat, "longitude": lon,
                        "codePostal": place["codePostal"], "commune": commune}  # fmt: skip
                if real.random() < cfg.swapped_share:
                    lieu["latitude"], lieu["longitude"] = lon, lat
                    dirt.add("swapped")
        type_contrat = rng.choices(list(TYPES_CONTRATS), [40, 30, 15, 5, 1, 2, 3, 1, 3])[0]
        nature = rng.choices(["E1", "E2", "FS", "NS", "I1", "CU"], [80, 8, 5, 3, 2, 2])[0]
        experience_code = rng.choice(["D", "S", "E"])
        experience = rng.choice(["0", "1", "2", "3", "4"]) if experience_code != "D" else "1"
        months = rng.choice([3, 6, 12, 18])
        data: dict[str, Any] = {
            "id": offer_id,
            "intitule": title,
            "description": self.description(title, self.text_dirt(dirt)),
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
        if real.random() >= cfg.appellation_share:
            del data["appellationlibelle"]
        if rng.random() < 0.56:
            data["entreprise"]["nom"] = rng.choice(COMPANIES)
        if rng.random() < cfg.salary_share:
            data["salaire"] = {"libelle": rng.choice(SALARIES)}
            if rng.random() < cfg.salary_extras_share / cfg.salary_share:
                keys = ("commentaire", "complement1", "complement2")[: real.randint(1, 3)]
                extras = real.sample(SALARY_EXTRAS, len(keys))
                data["salaire"].update(zip(keys, extras, strict=True))
        elif real.random() < cfg.salary_comment_only_share / max(1e-9, 1 - cfg.salary_share):
            data["salaire"] = {"commentaire": real.choice(SALARY_COMMENTS)}
            dirt.add("salary_comment_only")
        qualification = None
        if rng.random() < cfg.qualification_share:
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
        self.add_lists(data, rome)
        if real.random() < cfg.employer_text_share:
            data["entreprise"]["description"] = real.choice(EMPLOYER_TEXTS)
        if real.random() < cfg.recruiter_share:
            data["contact"].update(real.choice(RECRUITERS))
        if real.random() < cfg.apply_url_share:
            data["contact"]["urlPostulation"] = f"https://recrutement.example/postuler/{offer_id}"
        if hostile:
            pick = n // cfg.hostile_every
            data["intitule"] = HOSTILE[pick % len(HOSTILE)] + " " + title
            data["entreprise"]["nom"] = HOSTILE[(pick + 3) % len(HOSTILE)]
        return Offer(data, created, departement, region, nature, experience, qualification,
                     f"{title} {rome_label} {app_label} {keywords}".lower(), commune, lat, lon,
                     {"app": app_code}, dirt)  # fmt: skip

    def add_lists(self, data: dict[str, Any], rome: str) -> None:
        """The lists real offers carry (skills, qualities, trainings, languages, licences)."""
        cfg, real = self.config, self.real_rng

        def exigence() -> str:
            return real.choice("ES")

        if real.random() < cfg.skills_share:
            data["competences"] = [
                {"code": code, "libelle": label, "exigence": exigence()}
                for code, label in real.sample(SKILLS[rome], real.randint(1, len(SKILLS[rome])))
            ]
        if real.random() < cfg.qualities_share:
            data["qualitesProfessionnelles"] = [
                {"libelle": label, "description": text}
                for label, text in real.sample(QUALITIES, real.randint(1, 3))
            ]
        if real.random() < cfg.trainings_share:
            training: dict[str, Any] = {"niveauLibelle": real.choice(TRAINING_LEVELS),
                                        "exigence": exigence()}  # fmt: skip
            if real.random() < 0.8:
                code, label = real.choice(TRAINING_FIELDS)
                training.update(codeFormation=code, domaineLibelle=label)
            if real.random() < 0.3:
                training["commentaire"] = "ou expérience équivalente"
            data["formations"] = [training]
        if real.random() < cfg.languages_share:
            data["langues"] = [{"libelle": real.choice(LANGUAGES), "exigence": exigence()}]
        if real.random() < cfg.licences_share:
            data["permis"] = [{"libelle": real.choice(LICENCES), "exigence": exigence()}]

    def text_dirt(self, dirt: set[str]) -> set[str]:
        """Which of the texts' dirt patterns this offer's description gets (added to ``dirt``)."""
        cfg, real = self.config, self.real_rng
        shares = {
            "c1": cfg.c1_share,
            "fragment": cfg.fragment_share,
            "double_entity": cfg.double_entity_share,
            "entity": cfg.entity_share,
            "blank_lines": cfg.blank_lines_share,
        }
        picked = {name for name, share in shares.items() if real.random() < share}
        dirt |= picked
        return picked

    def description(self, title: str, dirt: set[str]) -> str:
        """Job-ad prose of a realistic length (see DESCRIPTION_SECTIONS), with the dirt
        patterns of real offers named in ``dirt``:

        ``entity``: apostrophes as ``&#039;`` and a closing ``&amp;``, as some partners
        send them; ``c1``, ``double_entity``: a sentence with Windows-1252 control
        characters, or double-encoded entities; ``fragment``: the first two paragraphs
        glued by a tag whose ``<`` was lost; ``blank_lines``: a blank line between
        paragraphs (else one line break). The text never exceeds the API's 5 000
        characters, and is cut at a line break when needed so that no entity is cut in
        half.
        """
        rng, text_rng = self.rng, self.text_rng
        # Two draws of the main generator, as ever, so that the rest of the dataset is unchanged.
        task = rng.choice(["accueillir les clients", "assurer la qualité", "suivre les dossiers"])
        profile = rng.choice(["débutant accepté", "2 ans d’expérience", "autonomie et rigueur"])
        # The length aimed at: log-normal around the median. The sections' runs overshoot it
        # by half a sentence each on average, and headings add their own length: hence the
        # smaller budget they share (calibrated on the default dataset).
        target = text_rng.lognormvariate(math.log(DESCRIPTION_MEDIAN), 0.4)
        budget = min(DESCRIPTION_MAX, max(300.0, target)) * BUDGET_SCALE
        bits = text_rng.getrandbits(16 * len(DESCRIPTION_SECTIONS))  # one draw for all sections
        parts = [f"Nous recrutons : {title}."]
        for (heading, _, bullets, share), orders in zip(
            DESCRIPTION_SECTIONS, self.sections, strict=True
        ):
            size = len(orders[0][0]) // 2
            pick, bits = (bits & 0xFFFF) % (len(orders) * size), bits >> 16
            doubled, ends = orders[pick // size]
            start = pick % size
            room = share * budget
            if not bullets and ends[start + 1] - ends[start] > 2 * room:
                continue  # short ads leave out the prose sections that have no room
            # A run of consecutive sentences just long enough for the section's share.
            stop = bisect_left(ends, ends[start] + room, start + 1, start + size)
            run = doubled[start : max(stop, start + 1)]
            if bullets:
                if heading == "Vos missions :":
                    run = ["participer à l'activité de l'équipe", task, *run]
                elif heading == "Votre profil :":
                    run = [profile, *run]
                body = "- " + " ;\n- ".join(run) + "."
            elif len(run) > 3:  # long prose: two paragraphs
                half = len(run) // 2
                body = " ".join(run[:half]) + "\n" + " ".join(run[half:])
            else:
                body = " ".join(run)
            parts.append(f"{heading}\n{body}")
        if "c1" in dirt:
            parts.insert(1, self.real_rng.choice(C1_SENTENCES)[0])
        if "double_entity" in dirt:
            parts.insert(1, DOUBLE_ENTITY[0])
        if "fragment" in dirt and len(parts) > 1:
            # "…(H/F)p>Qui sommes-nous ?": glued to the word before, the "<" lost upstream
            parts[:2] = [parts[0].rstrip(".") + self.real_rng.choice(FRAGMENTS) + parts[1]]
        text = ("\n\n" if "blank_lines" in dirt else "\n").join(parts)
        suffix = ""
        if "entity" in dirt:
            text, suffix = text.replace("'", "&#039;"), PARTNER_SUFFIX
        room = DESCRIPTION_MAX - len(suffix)
        if len(text) > room:
            text = text[: text.rfind("\n", 0, room)].rstrip(" ;\n")
        return text + suffix

    def publish(self, created: datetime | None = None) -> Offer:
        """An offer created right now (publications during a crawl), or at ``created``."""
        offer = self.make_offer(len(self.offers), created or datetime.now(UTC))
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
