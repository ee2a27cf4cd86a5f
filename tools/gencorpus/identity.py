"""Plausible Québec people, organisations and contact details for a DA-100.

Everything is drawn from the `random.Random` handed in, so a form is a pure
function of its seed. Values are written the way applicants type them; the
truth file holds them normalised as the contract says (see `truth.py`).
"""

import datetime
import re
import unicodedata

FEMALE = [
    "Marie", "Amélie", "Mélanie", "Hélène", "Noémie", "Zoé", "Josée", "Geneviève",
    "Élise", "Chloé", "Léa", "Émilie", "Valérie", "Ginette", "Marie-Ève",
    "Anne-Marie", "Isabelle", "Sophie", "Julie", "Nathalie", "Audrey", "Fatima",
    "Stéphanie", "Andrée", "Maude", "Frédérique", "Rosalie", "Béatrice", "Sylvie",
    "Karine", "Chantal", "Mélissa", "Gabrielle", "Aurélie", "Marie-Hélène", "Linh",
]
MALE = [
    "Benoît", "Stéphane", "Félix", "Frédéric", "Jérôme", "Sébastien", "François",
    "André", "René", "Réjean", "Gaétan", "Jean-François", "Pierre-Luc", "Marc-André",
    "Patrick", "Olivier", "Mathieu", "Gabriel", "Éric", "Hugo", "Étienne", "Luc",
    "Jean", "Maxime", "Alexandre", "Louis", "Raphaël", "Noël", "Jérémie", "Mohamed",
    "Simon", "Guillaume", "Yannick", "Rémi", "Denis", "Karim",
]
LAST = [
    "Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie",
    "Fortin", "Gagné", "Ouellet", "Pelletier", "Bélanger", "Lévesque", "Bergeron",
    "Leblanc", "Paquette", "Girard", "Simard", "Boucher", "Caron", "Beaulieu",
    "Cloutier", "Dubé", "Poirier", "Fournier", "Lapointe", "Leclerc", "Lefebvre",
    "Poulin", "Thibault", "St-Pierre", "Nadeau", "Martin", "Landry", "Martel",
    "Bédard", "Grenier", "Lessard", "Bernier", "Richard", "Michaud", "Hébert",
    "Desjardins", "Couture", "Turcotte", "Lachance", "Parent", "Blais", "Gosselin",
    "Savard", "Proulx", "Beaudoin", "Demers", "Perreault", "Boudreau", "Després",
    "Lemieux", "Champagne", "O'Brien", "Nguyen", "Joseph", "Ménard", "Thériault",
    "Séguin", "Brisson", "Létourneau", "Bérubé", "Mercier", "D'Amours", "Larivière",
]
KINDS = [
    "Clinique médicale", "Polyclinique", "Centre dentaire", "Cabinet",
    "Clinique familiale", "Groupe de médecine de famille", "Clinique de physiothérapie",
    "Clinique d'optométrie", "Pharmacie", "Clinique de chiropratique",
]
PLACES = [
    "Limoilou", "Rosemont", "Sainte-Foy", "Val-Bélair", "Trois-Rivières", "Verdun",
    "Laval-Ouest", "Saint-Laurent", "Sherbrooke Est", "Beauport", "Saint-Denis",
    "Lévis", "Chicoutimi", "Rimouski", "Gatineau", "Saint-Jérôme", "Boucherville",
    "Hochelaga", "Charlesbourg", "Montmagny", "Rivière-du-Loup", "Val-d'Or",
]
PUBLIC_DOMAINS = [
    "videotron.ca", "sympatico.ca", "gmail.com", "hotmail.com", "yahoo.ca",
    "bell.net", "icloud.com", "outlook.com", "globetrotter.net", "cgocable.ca",
]
# Role mailboxes a clinic really uses; each is a shared address in the sense
# of the organisation's rules.
ROLE_LOCALS = [
    "info", "reception", "secretariat", "accueil", "contact", "facturation",
    "admin", "bureau", "rendezvous", "office",
]
AREA_CODES = ["418", "438", "450", "514", "581", "819", "367", "873", "579"]
JOBS_F = [
    "Adjointe administrative", "Secrétaire médicale", "Réceptionniste",
    "Commis comptable", "Agente de facturation", "Coordonnatrice clinique",
    "Technicienne en administration", "Gestionnaire de bureau", "Agente de soutien",
    "Infirmière auxiliaire", "Préposée à l'accueil", "Hygiéniste dentaire",
]
JOBS_M = [
    "Adjoint administratif", "Secrétaire médical", "Réceptionniste",
    "Commis comptable", "Agent de facturation", "Coordonnateur clinique",
    "Technicien en administration", "Gestionnaire de bureau", "Agent de soutien",
    "Infirmier auxiliaire", "Préposé à l'accueil", "Commis de bureau",
]


def ascii_slug(text):
    """Lower-case ASCII letters and digits only, as in a mailbox or domain."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def person(rng):
    """A (first name, last name, is_female) triple; one in eight has a double name."""
    female = rng.random() < 0.6
    first = rng.choice(FEMALE if female else MALE)
    last = rng.choice(LAST)
    if rng.random() < 0.12:
        other = rng.choice(LAST)
        if other != last and "'" not in other + last:
            last = f"{last}-{other}"
    return first, last, female


def organisation(rng):
    """The clinic's name and its own mail domain."""
    kind = rng.choice(KINDS)
    place = rng.choice(PLACES)
    name = f"{kind} {place}"
    short = ascii_slug(kind.split()[-1])
    tld = rng.choice([".ca", ".qc.ca", ".com"])
    domain = rng.choice([ascii_slug(place), short + ascii_slug(place)]) + tld
    return name, domain


def email(rng, first, last, domain):
    """A personal address derived from the name, the way people build them."""
    f, l = ascii_slug(first), ascii_slug(last)
    shapes = [
        f"{f}.{l}", f"{f}{l}", f"{f[0]}{l}", f"{l}.{f}", f"{f[0]}.{l}",
        f"{f}.{l}{rng.randint(1, 99)}", f"{f[0]}.{l}{rng.randint(1, 99)}",
    ]
    return f"{rng.choice(shapes)}@{domain}"


def role_email(rng, domain):
    return f"{rng.choice(ROLE_LOCALS)}@{domain}"


def phone(rng):
    number = f"555-{rng.randint(0, 9999):04d}"
    sep = rng.choice([" ", "-", " "])
    return f"{rng.choice(AREA_CODES)}{sep}{number}"


def licence(rng):
    return f"{rng.randint(100000, 999999)}"


def job(rng, female):
    return rng.choice(JOBS_F if female else JOBS_M)


def signing_dates(rng):
    """The professional signs first, the user a few days later (ISO dates)."""
    start = datetime.date(2024, 11, 1) + datetime.timedelta(days=rng.randint(0, 24))
    later = start + datetime.timedelta(days=rng.randint(0, 6))
    return start.isoformat(), later.isoformat()


def birth_date(rng):
    day = datetime.date(1955, 1, 1) + datetime.timedelta(days=rng.randint(0, 48 * 365))
    return day.isoformat()
