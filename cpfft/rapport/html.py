"""The report page: one self-contained HTML file in French, from a :class:`~cpfft.rapport.figures.Rapport`.

Everything is inline (style, SVG charts); the page has no script and its
Content-Security-Policy forbids loading anything, so it opens offline and makes
no request. Key numbers carry ``data-chiffre``/``data-valeur`` attributes and
each chart ``data-graphique``/``data-marques`` (its number of bars), for tests
and for whoever scrapes the page. Under each chart, a source line names the
source, its extraction date and its licence with a link (from
:mod:`cpfft.sources`), as the France Travail licence requires wherever offers
are shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from cpfft.rapport import fr, svg
from cpfft.rapport.figures import TOP, TOP_COMPETENCES, Distribution, Metier, Rapport
from cpfft.sources import SOURCES

OFFRES = "#1f5fa8"
FORMATIONS = "#c2571a"
RATIO = "#6b3fa0"

CSS = """
body{font-family:system-ui,sans-serif;color:#1d1d1f;max-width:940px;margin:0 auto;padding:24px;
line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:2px solid #eee}
.filtres{color:#444}.cartes{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.carte{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:150px}
.carte strong{display:block;font-size:1.6em}.carte span{color:#555;font-size:.9em}
figure{margin:16px 0}figcaption{font-weight:bold;margin-bottom:6px}
figure svg{max-width:100%;height:auto}
.source{font-size:.82em;color:#555;margin:4px 0}
table{border-collapse:collapse;margin:8px 0;font-size:.92em}
th,td{border-bottom:1px solid #e5e5e5;padding:3px 8px;text-align:left}
td.n,th.n{text-align:right;white-space:nowrap}
.vide{color:#555;font-style:italic}footer{margin-top:3em;font-size:.88em;color:#333}
"""

# No request of any kind: not even an image, a font or a favicon.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def source_line(rapport: Rapport, names: Iterable[str]) -> str:
    """« Source : … » for each source a chart shows: title, producer, extraction date, licence."""
    parts = []
    for name in names:
        source = SOURCES[name]
        extraction = rapport.extractions.get(name)
        moment = extraction.extrait_le if extraction else None
        stamp = moment.isoformat() if moment else ""
        parts.append(
            f'<p class="source" data-source="{_t(name)}">Source : {_t(source.title)} '
            f"({_t(source.producer)}), mise à jour (extraction) du "
            f'<time datetime="{_t(stamp)}">{_t(fr.date(moment))}</time> — licence : '
            f'<a href="{_t(source.licence_url)}">{_t(source.licence)}</a></p>'
        )
    return "".join(parts)


def figure(
    rapport: Rapport, key: str, titre: str, chart: str, marks: int, sources: Sequence[str]
) -> str:
    return (
        f'<figure data-graphique="{key}" data-marques="{marks}">'
        f"<figcaption>{_t(titre)}</figcaption>{chart}{source_line(rapport, sources)}</figure>"
    )


def carte(key: str, value: int, label: str) -> str:
    return (
        f'<div class="carte"><strong data-chiffre="{key}" data-valeur="{value}">'
        f"{_t(fr.nombre(value))}</strong><span>{_t(label)}</span></div>"
    )


def ratio(value: float | None) -> str:
    return fr.nombre(value, 1)


def jobs_table(jobs: Sequence[Metier], key: str) -> str:
    rows = "".join(
        f'<tr data-rome="{_t(m.code_rome)}"><td>{_t(m.libelle or "")}</td>'
        f"<td>{_t(m.code_rome)}</td>"
        f'<td class="n">{fr.nombre(m.nb_offres)}</td>'
        f'<td class="n" data-alternance="{m.nb_offres_alternance}">'
        f"{fr.pourcent(m.part_alternance)}</td>"
        f'<td class="n">{fr.nombre(m.nb_formations)}</td>'
        f'<td class="n">{ratio(m.offres_par_formation)}</td></tr>'
        for m in jobs
    )
    return (
        f'<table data-tableau="{key}"><thead><tr><th>Métier</th><th>Code ROME</th>'
        '<th class="n">Offres</th><th class="n">Ouvertes à l\'alternance</th>'
        '<th class="n">Formations</th>'
        f'<th class="n">Offres par formation</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def describe_filters(rapport: Rapport) -> str:
    f = rapport.filtres
    parts = [f"Territoire : {rapport.territoire.nom}"]
    if f.theme:
        parts.append(f"thème : {f.theme_label or f.theme} (codes NSF {', '.join(f.nsf)})")
    if f.rome:
        parts.append(f"code ROME : {f.rome}")
    return " · ".join(parts)


def headline(rapport: Rapport) -> str:
    c = rapport.chiffres
    dates = "".join(
        f"<li>{_t(SOURCES[name].title)} : extraction du "
        f'<time data-extraction="{name}" datetime="{_t(e.extrait_le.isoformat() if e.extrait_le else "")}">'
        f"{_t(fr.date(e.extrait_le))}</time></li>"
        for name in ("formations", "offres")
        if (e := rapport.extractions.get(name))
    )
    return (
        '<section id="chiffres"><h2>Chiffres clés</h2><div class="cartes">'
        + carte("nb_offres", c.nb_offres, "offres d'emploi")
        + carte("nb_formations", c.nb_formations, "formations (numéros distincts)")
        + carte("nb_organismes", c.nb_organismes, "organismes de formation (SIRET)")
        + carte("rome_les_deux", c.rome_les_deux, "codes ROME présents des deux côtés")
        + carte("rome_offres_seulement", c.rome_offres_seulement, "codes ROME des offres seulement")
        + carte(
            "rome_formations_seulement",
            c.rome_formations_seulement,
            "codes ROME des formations seulement",
        )
        + "</div>"
        f"<p>Codes ROME du territoire : {fr.compte(c.nb_rome, 'code')}, dont "
        f"{fr.nombre(c.rome_les_deux)} à la fois dans les offres et dans le catalogue ; les "
        "autres n'apparaissent que d'un côté (les deux sources n'emploient pas toujours la même "
        "version du répertoire ROME).</p>"
        f"<ul>{dates}</ul></section>"
    )


def section_top(rapport: Rapport) -> str:
    jobs = rapport.top_metiers
    head = (
        f'<section id="top-metiers"><h2>Les métiers qui recrutent le plus</h2>'
        f"<p>Les codes ROME aux offres les plus nombreuses (territoire : "
        f"{_t(rapport.territoire.nom)} ; {TOP} au plus), la part de leurs offres ouvertes à "
        "l'alternance (apprentissage, professionnalisation), et le nombre de formations du "
        "catalogue qui y préparent (chacune compte pour chacun de ses codes ROME).</p>"
    )
    if not jobs:
        return head + '<p class="vide">Aucune offre dans ce périmètre.</p></section>'
    chart = svg.barres(
        "Offres et formations par métier",
        [m.nom for m in jobs],
        [
            svg.Serie("Offres", OFFRES, "Nombre d'offres", [m.nb_offres for m in jobs]),
            svg.Serie(
                "Formations", FORMATIONS, "Nombre de formations", [m.nb_formations for m in jobs]
            ),
        ],
    )
    return (
        head
        + figure(
            rapport,
            "top-metiers",
            "Offres d'emploi et formations des métiers aux offres les plus nombreuses",
            chart,
            2 * len(jobs),
            ("offres", "formations"),
        )
        + jobs_table(jobs, "top-metiers")
        + "</section>"
    )


def section_competences(rapport: Rapport) -> str:
    """The skills the offers of each top job ask for most, with the share of its offers."""
    head = (
        '<section id="competences"><h2>Compétences les plus demandées</h2>'
        f"<p>Pour chacun de ces métiers, les {TOP_COMPETENCES} compétences que ses offres "
        "demandent le plus souvent (exigées ou souhaitées), et la part de ses offres qui les "
        "demandent. Toutes les offres ne listent pas de compétences.</p>"
    )
    jobs = [m for m in rapport.top_metiers if m.code_rome in rapport.competences]
    if not jobs:
        return (
            head + '<p class="vide">Les offres de ce périmètre ne listent aucune '
            "compétence.</p></section>"
        )
    rows = "".join(
        f'<tr data-rome="{_t(m.code_rome)}"><td>{_t(m.nom)}</td>'
        f'<td class="n">{fr.nombre(m.nb_offres)}</td><td><ol>'
        + "".join(
            f'<li data-competence="{_t(c.libelle)}" data-offres="{c.nb_offres}">'
            f"{_t(c.libelle)} ({fr.pourcent(c.part)})</li>"
            for c in rapport.competences[m.code_rome]
        )
        + "</ol></td></tr>"
        for m in jobs
    )
    return (
        head + '<table data-tableau="competences"><thead><tr><th>Métier</th>'
        '<th class="n">Offres</th><th>Compétences (part des offres du métier)</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>" + source_line(rapport, ("offres",)) + "</section>"
    )


def section_ecarts(rapport: Rapport) -> str:
    jobs = rapport.ecarts
    seuil = fr.compte(rapport.filtres.min_offres, "offre")
    head = (
        '<section id="ecarts"><h2>Beaucoup d\'offres, peu de formations</h2>'
        f"<p>Parmi les métiers d'au moins {seuil}, ceux qui ont le plus d'offres par "
        "formation du catalogue.</p>"
    )
    body = ""
    if jobs:
        chart = svg.barres(
            "Offres par formation",
            [m.nom for m in jobs],
            [
                svg.Serie(
                    "Offres par formation",
                    RATIO,
                    "Nombre d'offres par formation",
                    [m.offres_par_formation or 0.0 for m in jobs],
                    ratio,
                    entier=False,
                )
            ],
        )
        body += figure(
            rapport,
            "ecarts",
            "Offres par formation : les métiers les moins couverts par le catalogue",
            chart,
            len(jobs),
            ("offres", "formations"),
        ) + jobs_table(jobs, "ecarts")
    else:
        body += f"<p class=\"vide\">Aucun métier d'au moins {seuil} n'a de formation.</p>"
    none = rapport.sans_formation
    if none:
        body += (
            f"<h3>Métiers d'au moins {seuil} sans aucune formation</h3>"
            + jobs_table(none, "sans-formation")
            + source_line(rapport, ("offres", "formations"))
        )
    return head + body + "</section>"


def section_regions(rapport: Rapport) -> str:
    rows = rapport.regions
    chosen = frozenset(i for i, r in enumerate(rows) if r.code == rapport.region_choisie)
    chart = svg.barres(
        "Offres et formations par région",
        [r.nom for r in rows],
        [
            svg.Serie("Offres", OFFRES, "Nombre d'offres", [r.nb_offres for r in rows]),
            svg.Serie(
                "Formations", FORMATIONS, "Nombre de formations", [r.nb_formations for r in rows]
            ),
        ],
        surlignes=chosen,
        largeur_libelles=210,
    )
    table = "".join(
        f'<tr data-region="{_t(r.code)}"><td>{_t(r.nom)}</td><td>{_t(r.code)}</td>'
        f'<td class="n">{fr.nombre(r.nb_offres)}</td><td class="n">{fr.nombre(r.nb_formations)}</td>'
        f'<td class="n">{ratio(r.offres_par_formation)}</td></tr>'
        for r in rows
    )
    note = " La région choisie est en gras." if chosen else ""
    return (
        '<section id="regions"><h2>Offres et formations par région</h2>'
        "<p>Toutes les régions, quel que soit le territoire choisi (le thème ou le code ROME "
        "s'appliquent). Les offres localisées seulement au niveau d'une région comptent pour "
        f"elle ; celles sans lieu connu ne figurent pas ici.{note}</p>"
        + figure(
            rapport,
            "regions",
            "Offres d'emploi et formations (numéros distincts) par région",
            chart,
            2 * len(rows),
            ("offres", "formations"),
        )
        + '<table data-tableau="regions"><thead><tr><th>Région</th><th>Code</th>'
        '<th class="n">Offres</th><th class="n">Formations</th>'
        f'<th class="n">Offres par formation</th></tr></thead><tbody>{table}</tbody></table>'
        "</section>"
    )


def summary(d: Distribution, key: str, unit: str) -> str:
    fmt = fr.euros if unit == "€" else fr.heures
    cells = [
        ("n", "formations", d.n, fr.nombre(d.n)),
        ("sans-valeur", "sans valeur (non comptées)", d.sans_valeur, fr.nombre(d.sans_valeur)),
        ("minimum", "minimum", d.minimum, fmt(d.minimum)),
        ("q1", "1er quartile", d.q1, fmt(d.q1)),
        ("mediane", "médiane", d.mediane, fmt(d.mediane)),
        ("q3", "3e quartile", d.q3, fmt(d.q3)),
        ("maximum", "maximum", d.maximum, fmt(d.maximum)),
    ]
    head = "".join(f'<th class="n">{_t(label)}</th>' for _, label, _, _ in cells)
    body = "".join(
        f'<td class="n" data-stat="{key}-{name}" data-valeur="{"" if raw is None else raw!r}">'
        f"{_t(text)}</td>"
        for name, _, raw, text in cells
    )
    return (
        f'<table data-tableau="{key}"><thead><tr>{head}</tr></thead><tbody><tr>{body}</tr>'
        "</tbody></table>"
    )


def section_distributions(rapport: Rapport) -> str:
    f = rapport.filtres
    if f.rome:
        scope = f"des formations qui préparent au code ROME {f.rome}"
    elif f.theme:
        scope = f"des formations du thème « {f.theme_label or f.theme} »"
    else:
        scope = "de toutes les formations"
    where = f" ({rapport.territoire.nom})"
    out = [
        f'<section id="distributions"><h2>Prix et durées {_t(scope)}{_t(where)}</h2>',
        (
            "<p>Une valeur par formation : la moyenne de ses actions (colonnes "
            "<code>frais_ttc_tot_mean</code> et <code>nombre_heures_total_mean</code>), moyennée "
            "sur ses lignes du catalogue. Le catalogue écrit 0 quand il ne donne pas la durée "
            "ou le prix : ces lignes ne comptent pas, et chaque graphique dit combien de "
            "formations n'en donnent pas. Les classes vont jusqu'au 95e centile ; la dernière "
            "barre, grise, réunit les valeurs au-delà.</p>"
        ),
    ]
    for key, d, title, axis, fmt, unit, missing in (
        ("prix", rapport.prix, "Prix TTC", "Prix TTC moyen (€)", fr.euros, "€", "sans prix"),
        ("heures", rapport.heures, "Durée", "Durée moyenne (heures)", fr.heures, "h",
         "sans durée"),
    ):  # fmt: skip
        caption = f"{title} des formations : répartition ({fr.compte(d.n, 'formation')}"
        caption += (
            f" ; {fr.nombre(d.sans_valeur)} {missing}, non {fr.accord(d.sans_valeur, 'comptée')})"
            if d.sans_valeur
            else ")"
        )
        if d.n:
            chart = svg.histogramme(caption, d.classes, axis, fmt, FORMATIONS, d.mediane)
            out.append(
                figure(rapport, key, caption, chart, len(d.classes), ("formations",))
                + summary(d, key, unit)
            )
        else:
            out.append(
                f'<p class="vide" data-graphique-absent="{key}">{_t(title)} : aucune formation '
                "avec une valeur dans ce périmètre"
                + (f" ({fr.compte(d.sans_valeur, 'formation')} {missing})" if d.sans_valeur else "")
                + ".</p>"
            )
    out.append("</section>")
    return "".join(out)


RETRAITS = "#6b6b6b"


def section_historique(rapport: Rapport) -> str:
    """The job market over time: offers online per day, added and withdrawn per week,
    days online per job, the catalogue's changes; or where history stands."""
    h = rapport.historique
    head = '<section id="historique"><h2>Dans le temps</h2>'
    if h is None:
        return (
            head + '<p class="vide" data-historique="absent">Cet entrepôt n\'a pas '
            "d'historique (il a été construit par une version antérieure de cpfft) : le "
            "prochain <code>scrapy entrepot</code> le commence.</p></section>"
        )
    if h.commence:
        start = fr.jour(h.debut) if h.debut else "aujourd'hui"
        return (
            head + f'<p class="vide" data-historique="commence">L\'historique commence le '
            f"{_t(start)} : les courbes apparaîtront au fil des chargements (un par jour "
            "suffit).</p></section>"
        )
    days = h.jours
    out = [
        head,
        f"<p>Du {_t(fr.jour(days[0][0]))} au {_t(fr.jour(days[-1][0]))}, d'après les "
        f"{fr.nombre(len(days))} jours gardés par l'entrepôt ({_t(rapport.territoire.nom)}"
        + ("" if not (rapport.filtres.rome or rapport.filtres.nsf) else ", filtres compris")
        + "). Une offre est en ligne un jour si la dernière exécution chargée ce jour-là (ou "
        "avant) la montrait.</p>",
    ]
    pas = max(1, len(days) // 10)
    chart = svg.colonnes(
        "Offres en ligne chaque jour",
        [fr.jour(d, annee=False) for d, _ in days],
        [svg.Serie("Offres en ligne", OFFRES, "Offres", [n for _, n in days])],
        "Offres en ligne",
        pas,
    )
    out.append(
        figure(
            rapport,
            "en-ligne",
            "Offres en ligne à la fin de chaque jour",
            chart,
            len(days),
            ("offres",),
        )
    )
    if h.semaines:
        weeks = h.semaines
        chart = svg.colonnes(
            "Offres ajoutées et retirées par semaine",
            [f"sem. du {fr.jour(w.debut, annee=False)}" for w in weeks],
            [
                svg.Serie("Ajoutées", OFFRES, "Offres", [w.ajoutees for w in weeks]),
                svg.Serie("Retirées", RETRAITS, "Offres", [w.retirees for w in weeks]),
            ],
            "Offres",
            max(1, len(weeks) // 8),
        )
        out.append(
            figure(
                rapport,
                "semaines",
                "Offres ajoutées et retirées par semaine (lundi à "
                "dimanche ; le jour où l'historique commence n'ajoute rien)",
                chart,
                2 * len(weeks),
                ("offres",),
            )
        )
    if h.durees:
        rows = "".join(
            f'<tr data-rome="{_t(d.code_rome)}"><td>{_t(d.code_rome)}</td>'
            f"<td>{_t(d.libelle or '')}</td>"
            f'<td class="n" data-valeur="{d.mediane_jours!r}">{fr.nombre(d.mediane_jours, 1)}'
            f'</td><td class="n">{fr.nombre(d.n)}</td></tr>'
            for d in h.durees
        )
        chart = svg.barres(
            "Jours en ligne des offres retirées, par métier",
            [f"{d.libelle or d.code_rome} ({d.code_rome})" for d in h.durees],
            [
                svg.Serie(
                    "Médiane (jours)",
                    OFFRES,
                    "Jours en ligne",
                    [d.mediane_jours for d in h.durees],
                    lambda v: fr.nombre(v, 1),
                    False,
                )
            ],
        )
        out.append(
            figure(
                rapport,
                "durees",
                "Jours en ligne des offres retirées (médiane, de la création au retrait)",
                chart,
                len(h.durees),
                ("offres",),
            )
            + '<table data-tableau="durees"><thead><tr><th>Code ROME</th><th>Métier</th>'
            '<th class="n">Jours en ligne (médiane)</th><th class="n">Offres retirées</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>"
            f"<p>Métiers d'au moins {fr.compte(h.min_retraits, 'offre retirée', 'offres retirées')} "
            "pendant la période ; une durée longue peut signaler un recrutement difficile.</p>"
        )
    else:
        out.append(
            f'<p class="vide" data-graphique-absent="durees">Jours en ligne : aucun métier n\'a '
            f"encore {fr.compte(h.min_retraits, 'offre retirée', 'offres retirées')} dans la "
            "période.</p>"
        )
    if h.catalogue:
        snaps = h.catalogue
        chart = svg.colonnes(
            "Formations ajoutées et retirées du catalogue",
            [fr.jour(c.jour, annee=False) for c in snaps],
            [
                svg.Serie("Ajoutées", FORMATIONS, "Formations", [c.ajoutees for c in snaps]),
                svg.Serie("Retirées", RETRAITS, "Formations", [c.retirees for c in snaps]),
            ],
            "Lignes du catalogue",
            max(1, len(snaps) // 8),
        )
        changed = sum(c.modifiees for c in snaps)
        out.append(
            figure(
                rapport,
                "catalogue",
                "Formations (lignes du catalogue) ajoutées et retirées à chaque extraction",
                chart,
                2 * len(snaps),
                ("formations",),
            )
            + f"<p>Et {fr.compte(changed, 'ligne')} dont le prix ou la durée a changé "
            "(territoire choisi ; le thème et le code ROME ne s'appliquent pas ici).</p>"
        )
    else:
        out.append(
            '<p class="vide" data-graphique-absent="catalogue">Catalogue : une seule '
            "extraction chargée, pas encore de changement à montrer.</p>"
        )
    out.append("</section>")
    return "".join(out)


def licences(rapport: Rapport) -> str:
    items = "".join(
        f'<li data-licence="{name}"><strong>{_t(SOURCES[name].title)}</strong> '
        f"({_t(SOURCES[name].producer)}) — "
        f'<a href="{_t(SOURCES[name].url)}">{_t(SOURCES[name].url)}</a><br>'
        f'Licence : <a href="{_t(SOURCES[name].licence_url)}">{_t(SOURCES[name].licence)}</a>. '
        f"{_t(SOURCES[name].obligations)}</li>"
        for name in ("formations", "offres")
    )
    return f"<footer><h2>Sources et licences</h2><ul>{items}</ul></footer>"


def render(rapport: Rapport) -> str:
    """The whole page."""
    title = f"Offres d'emploi et formations — {rapport.territoire.nom}"
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_t(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_t(title)}</h1>"
        f'<p class="filtres" data-territoire="{_t(rapport.territoire.code)}">'
        f"{_t(describe_filters(rapport))}</p></header>"
        + headline(rapport)
        + section_top(rapport)
        + section_competences(rapport)
        + section_ecarts(rapport)
        + section_regions(rapport)
        + section_distributions(rapport)
        + section_historique(rapport)
        + licences(rapport)
        + "</body></html>\n"
    )
