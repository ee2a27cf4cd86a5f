"""What an applicant writes on one DA-100, before any flaw or production.

A `Form` holds the typed text per field id (as typed, not normalised), the
ticked service boxes, what is in each signature box, and the names a person
would sign with. `truth.py` turns it into the expected report.
"""

import identity

SERVICES = ["FACT", "INSC", "PAIE", "DOSS"]
# Required by the contract: every text field but the organisation and phone.
REQUIRED = [
    "employer.last_name", "employer.first_name", "employer.licence", "employer.email",
    "employer.date", "user.last_name", "user.first_name", "user.birth_date",
    "user.job_title", "user.email", "user.date",
]


class Form:
    def __init__(self, fields, ticks, signatures, names):
        self.fields = fields  # field id -> typed text, or None when left empty
        self.ticks = ticks  # service codes whose box holds ink
        self.signatures = signatures  # party -> "hand" | "none" | "smudge" | "typed"
        self.names = names  # party -> (first, last)


def complete(rng):
    """A correctly filled form: every field, one service, both signatures."""
    e_first, e_last, _ = identity.person(rng)
    u_first, u_last, u_female = identity.person(rng)
    org, org_domain = identity.organisation(rng)
    has_org = rng.random() < 0.8
    e_domain = org_domain if has_org and rng.random() < 0.45 else rng.choice(identity.PUBLIC_DOMAINS)
    u_domain = org_domain if has_org and rng.random() < 0.55 else rng.choice(identity.PUBLIC_DOMAINS)
    e_date, u_date = identity.signing_dates(rng)
    licence = identity.licence(rng)
    if rng.random() < 0.1:
        licence = f"{licence[:3]} {licence[3:]}"  # typed in two groups
    fields = {
        "employer.last_name": e_last,
        "employer.first_name": e_first,
        "employer.licence": licence,
        "employer.phone": identity.phone(rng) if rng.random() < 0.95 else None,
        "employer.organisation": org if has_org else None,
        "employer.email": _maybe_capitalised(rng, identity.email(rng, e_first, e_last, e_domain)),
        "employer.date": e_date,
        "user.last_name": u_last,
        "user.first_name": u_first,
        "user.birth_date": identity.birth_date(rng),
        "user.job_title": identity.job(rng, u_female),
        "user.email": _maybe_capitalised(rng, identity.email(rng, u_first, u_last, u_domain)),
        "user.date": u_date,
    }
    if fields["user.email"].lower() == fields["employer.email"].lower():
        fields["user.email"] = identity.email(rng, u_first, u_last + "x", u_domain)
    return Form(
        fields,
        [rng.choice(SERVICES)],
        {"employer": "hand", "user": "hand"},
        {"employer": (e_first, e_last), "user": (u_first, u_last)},
    )


def _maybe_capitalised(rng, address):
    """Some people type their address with capitals; it stays the same address."""
    if rng.random() < 0.08:
        local, _, domain = address.partition("@")
        return f"{local[:1].upper()}{local[1:]}@{domain}"
    return address
