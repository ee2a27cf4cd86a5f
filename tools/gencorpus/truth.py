"""The expected report of one generated file, in the shape of the shared
corpus's truth.json (file, forms, outcome, reasons, service, signatures,
review_ok, flaw, produced_by, fields)."""

import re
import unicodedata

# Outcome of each reason code (CONTRACT.md), by the part before any ':'.
_OUTCOME = {
    "multi_form": "rejected",
    "missing_signature": "correction",
    "missing_field": "correction",
    "invalid_email": "correction",
    "same_email": "correction",
    "shared_email": "correction",
    "service_count": "correction",
    "incomplete_scan": "correction",
    "illegible": "review",
}
_PRECEDENCE = ["rejected", "correction", "review", "queued"]


def outcome(reasons):
    found = {_OUTCOME[r.split(":")[0]] for r in reasons}
    return next(o for o in _PRECEDENCE if o in found or o == "queued")


def normalise(field, typed):
    """A typed value as the contract says the report gives it."""
    value = unicodedata.normalize("NFC", re.sub(r"\s+", " ", typed.strip()))
    if field.endswith(".email"):
        return value.lower()
    if field == "employer.licence":
        return re.sub(r"\D", "", value)
    return value


def entry(file, flaw, reasons, form, produced_by, review_ok):
    if flaw == "multi_form":
        # As in the shared corpus: a rejected file reports no form's details.
        return {
            "file": file,
            "forms": 2,
            "outcome": "rejected",
            "reasons": reasons,
            "service": None,
            "signatures": {"employer": True, "user": True},
            "review_ok": False,
            "flaw": flaw,
            "produced_by": produced_by,
            "fields": {},
        }
    # The shared truth leaves an invalid address out of `fields`.
    invalid = {r.split(":")[1] for r in reasons if r.startswith("invalid_email:")}
    fields = {
        fid: normalise(fid, typed)
        for fid, typed in form.fields.items()
        if typed and not (fid.endswith(".email") and fid.split(".")[0] in invalid)
    }
    result = outcome(reasons)
    return {
        "file": file,
        "forms": 1,
        "outcome": result,
        "reasons": reasons,
        "service": form.ticks[0] if len(form.ticks) == 1 else None,
        "signatures": {p: form.signatures[p] == "hand" for p in ("employer", "user")},
        "review_ok": review_ok and result == "queued",
        "flaw": flaw,
        "produced_by": produced_by,
        "fields": fields,
    }
