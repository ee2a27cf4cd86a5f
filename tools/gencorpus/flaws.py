"""The flaws a submission can carry, and the report each one must produce.

Each flaw changes a complete `Form` the way a real applicant gets it wrong and
returns the reason codes of `shared/spec/CONTRACT.md` it calls for. A flaw the
contract has no code for (a signature dated in the future, an under-age user)
is left out: the truth would have nothing to say about it.
"""

import identity
from form import REQUIRED, SERVICES

# name -> relative weight in a corpus; `none` dominates as in real mail.
WEIGHTS = {
    "none": 30,
    "missing_sig_employer": 5,
    "missing_sig_user": 5,
    "smudge_sig": 5,
    "typed_sig": 5,
    "two_services": 5,
    "no_service": 5,
    "role_employer": 4,
    "role_user": 4,
    "same_email": 4,
    "bad_email_user": 4,
    "bad_email_employer": 2,
    "missing_licence": 4,
    "missing_field": 5,
    "multi_form": 4,
}


# The hard mix (`--mix hard`) has more fine forms (what must never be asked
# to be corrected) and adds what only a photo or a careless scan
# shows: a page cut through a field, a box or a signature zone, a page too
# dark or too blurred to be read whole. Each calls for `incomplete_scan`.
PHOTO_FLAWS = ["cut_off", "dark_page", "blurred_page"]
HARD_WEIGHTS = {**WEIGHTS, "none": 60, "cut_off": 8, "dark_page": 3, "blurred_page": 3}


def pick(rng, allowed=None, weights=WEIGHTS):
    names = [n for n in weights if allowed is None or n in allowed]
    if not names:
        raise ValueError(f"no flaw of this mix among {sorted(allowed)}; known: {sorted(weights)}")
    return rng.choices(names, [weights[n] for n in names])[0]


def apply(rng, flaw, form):
    """Spoil `form` in place; return the reason codes the flaw must raise."""
    handler = _HANDLERS[flaw]
    return handler(rng, form)


def _none(rng, form):
    return []


def _missing_sig(party):
    def spoil(rng, form):
        form.signatures[party] = "none"
        return [f"missing_signature:{party}"]

    return spoil


def _fake_sig(kind):
    def spoil(rng, form):
        party = rng.choice(["employer", "user"])
        form.signatures[party] = kind
        return [f"missing_signature:{party}"]

    return spoil


def _two_services(rng, form):
    form.ticks = rng.sample(SERVICES, 2)
    return ["service_count"]


def _no_service(rng, form):
    form.ticks = []
    return ["service_count"]


def _role(party):
    def spoil(rng, form):
        domain = form.fields[f"{party}.email"].partition("@")[2]
        form.fields[f"{party}.email"] = identity.role_email(rng, domain)
        return [f"shared_email:{party}"]

    return spoil


def _same_email(rng, form):
    form.fields["user.email"] = form.fields["employer.email"]
    return ["same_email"]


def _bad_email(party):
    def spoil(rng, form):
        local, _, domain = form.fields[f"{party}.email"].partition("@")
        broken = rng.choice(
            [
                f"{local} {domain}",  # the @ left out
                f"{local}@@{domain}",
                f"{local}(at){domain}",
                f"{local}@",
                f"@{domain}",
                f"{local}@{domain.replace('.', ',', 1)}",
            ]
        )
        form.fields[f"{party}.email"] = broken
        return [f"invalid_email:{party}"]

    return spoil


def _missing_licence(rng, form):
    form.fields["employer.licence"] = None
    return ["missing_field:employer.licence"]


def _missing_field(rng, form):
    field = rng.choice([f for f in REQUIRED if f != "employer.licence"])
    form.fields[field] = None
    return [f"missing_field:{field}"]


def _multi_form(rng, form):
    return ["multi_form"]


def _incomplete(rng, form):
    return ["incomplete_scan"]


_HANDLERS = {
    "none": _none,
    "missing_sig_employer": _missing_sig("employer"),
    "missing_sig_user": _missing_sig("user"),
    "smudge_sig": _fake_sig("smudge"),
    "typed_sig": _fake_sig("typed"),
    "two_services": _two_services,
    "no_service": _no_service,
    "role_employer": _role("employer"),
    "role_user": _role("user"),
    "same_email": _same_email,
    "bad_email_user": _bad_email("user"),
    "bad_email_employer": _bad_email("employer"),
    "missing_licence": _missing_licence,
    "missing_field": _missing_field,
    "multi_form": _multi_form,
    **{name: _incomplete for name in PHOTO_FLAWS},
}
assert set(_HANDLERS) == set(HARD_WEIGHTS)
