"""Checking a related-files import before it runs (kervan.imports.related): the mapping of each file's columns, the
joins between the files and their counts (rows that join, orphans), and the start of the check."""

from django.utils.translation import gettext as _

from kervan.core.errors import KervanError
from kervan.imports.fields import (
    check_mapping,
    field_labels,
)
from kervan.imports.file_settings import clean_settings
from kervan.imports.models import ImportJob, ImportKind
from kervan.imports.related import (
    ORDER_ROLES,
    PARENTS,
    ROLE_FIELDS,
    ROLE_LABELS,
    ROLES,
    Files,
    _file_of,
    files_by_role,
    guess_join,
)


def clean_related(config, job: ImportJob) -> dict:
    """The roles and joins as given (the page, --mapping's settings.related): each role once, the orders file there,
    every join naming columns of its two files."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise KervanError(_("The related files' settings must be an object."), "invalid_settings", field="related")
    names = [i["name"] for i in (job.facts or {}).get("files", ())]
    stored = (job.options.get("related") or {}) if job.options else {}
    roles = dict(stored.get("roles", {}))
    roles.update(config.get("roles") or {})
    seen: dict[str, str] = {}
    for name, role in roles.items():
        if name not in names:
            raise KervanError(_("There is no file '%(name)s'.") % {"name": name}, "unknown_file", field="related")
        if role and role not in ROLES:
            raise KervanError(
                _("'%(role)s' is not a kind of file (%(choices)s).") % {"role": role, "choices": ", ".join(ROLES)},
                "invalid_role",
                field="related",
            )
        if role and role in seen:
            raise KervanError(
                _("Two files hold %(role)s: %(first)s and %(other)s. Choose what each holds.")
                % {"role": str(ROLE_LABELS[role]).lower(), "first": seen[role], "other": name},
                "duplicate_role",
                field="related",
            )
        if role:
            seen[role] = name
    if "orders" not in seen:
        raise KervanError(
            _("Say which file holds the orders: related files are joined to it."),
            "missing_orders_file",
            field="related",
        )
    joins = dict(stored.get("joins", {}))
    joins.update(config.get("joins") or {})
    columns = {i["name"]: i["columns"] for i in job.facts["files"]}
    cleaned = {}
    for role, parent in PARENTS.items():
        if role not in seen or parent not in seen:
            continue
        pair = joins.get(role)
        if not pair:  # a role just chosen: its join guessed from the column names
            pair = guess_join(columns[seen[role]], columns[seen[parent]], parent)
        if not pair or not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(pair):
            raise KervanError(
                _("Say which column of %(file)s joins which column of %(parent)s.")
                % {"file": seen[role], "parent": seen[parent]},
                "missing_join",
                field="related",
            )
        child_column, parent_column = pair
        for name, column in ((seen[role], child_column), (seen[parent], parent_column)):
            if column not in columns[name]:
                raise KervanError(
                    _("%(file)s has no column '%(column)s'.") % {"file": name, "column": column},
                    "unknown_column",
                    field="related",
                )
        cleaned[role] = [child_column, parent_column]
    return {"roles": {name: roles.get(name, "") for name in names}, "joins": cleaned}


def check_related_mapping(job: ImportJob, mapping) -> dict[str, str]:
    """Each file's columns map to the fields of its role; the customers, orders and items files together are an
    order-line file (its required fields all named at once); a payments file needs its amount, a reviews file its
    rating."""
    if not isinstance(mapping, dict):
        raise KervanError(_("mapping must be an object {column: field}."), "invalid_mapping", field="mapping")
    labels = field_labels(ImportKind.RELATED)
    by_role = files_by_role(job)
    role_of_stem = {info["stem"]: role for role, info in by_role.items()}
    joins = job.options["related"]["joins"]
    cleaned: dict[str, str] = {}
    order_group: dict[str, str] = {}
    for column, field in mapping.items():
        if field in ("", None):
            continue
        if column not in job.columns:
            raise KervanError(
                _("The files have no column '%(column)s'.") % {"column": column}, "unknown_column", field="mapping"
            )
        info = _file_of(job, column)
        role = role_of_stem.get(info["stem"]) if info else None
        if not isinstance(field, str) or field not in labels:
            raise KervanError(
                _("'%(field)s' is not a field of a %(kind)s import.") % {"field": field, "kind": "related"},
                "unknown_field",
                field="mapping",
            )
        if role is None:
            continue  # a file not imported
        if field not in ROLE_FIELDS[role]:
            raise KervanError(
                _("%(column)s is in the %(role)s file: it cannot be imported as %(field)s.")
                % {"column": column, "role": str(ROLE_LABELS[role]).lower(), "field": labels[field]},
                "field_not_in_file",
                field="mapping",
            )
        if role in joins and column == f"{info['stem']}.{joins[role][0]}":
            continue  # the join is the column's use
        cleaned[column] = field
        if role in ORDER_ROLES:
            order_group[column] = field
    for role in ("payments", "reviews"):
        if role not in by_role:
            continue
        mine = [f for c, f in cleaned.items() if c.startswith(by_role[role]["stem"] + ".")]
        for name in {f for f in mine if mine.count(f) > 1}:
            raise KervanError(
                _("Two columns are mapped to '%(field)s'.") % {"field": labels[name]},
                "duplicate_field",
                field="mapping",
            )
        needed = "payment_amount" if role == "payments" else "review_rating"
        if needed not in mine:
            raise KervanError(
                _("Map a column of %(file)s to %(field)s.") % {"file": by_role[role]["name"], "field": labels[needed]},
                "missing_required_field",
                field="mapping",
            )
    check_mapping(ImportKind.ORDERS, list(order_group), order_group)
    return cleaned


def join_counts(job: ImportJob, files: Files | None = None) -> dict:
    """{child role: {"file", "parent", "column", "parent_column", "rows", "joined", "orphans"}} for each join."""
    config = job.options.get("related") or {}
    by_role = files_by_role(job)
    own = files is None
    if own:
        files = Files(job.file.path)
    try:
        keys: dict[tuple[str, str], list[str]] = {}

        def column(info: dict, name: str) -> list[str]:
            key = (info["name"], name)
            if key not in keys:
                table = files.table(info["name"])
                i = table.columns.index(name)
                keys[key] = [cells[i].strip() for _n, cells in table.rows()]
            return keys[key]

        counts = {}
        for role, (child_column, parent_column) in config.get("joins", {}).items():
            parent_role = PARENTS[role]
            if role not in by_role or parent_role not in by_role:
                continue
            child, parent = by_role[role], by_role[parent_role]
            wanted = set(column(parent, parent_column))
            values = column(child, child_column)
            joined = sum(1 for v in values if v and v in wanted)
            counts[role] = {
                "file": child["name"],
                "parent": parent["name"],
                "column": child_column,
                "parent_column": parent_column,
                "rows": len(values),
                "joined": joined,
                "orphans": len(values) - joined,
            }
        return counts
    finally:
        if own:
            files.close()


def check_joins(job: ImportJob) -> None:
    """Count the joins again if the user changed them (or a file's role) since they were counted, and refuse one
    that joins nothing."""
    counts = (job.facts or {}).get("joins", {})
    by_role = files_by_role(job)
    wanted = {
        role: (by_role[role]["name"], by_role[PARENTS[role]]["name"], *pair)
        for role, pair in job.options["related"]["joins"].items()
    }
    counted = {role: (c["file"], c["parent"], c["column"], c["parent_column"]) for role, c in counts.items()}
    if wanted != counted:
        counts = join_counts(job)
    job.facts["joins"] = counts
    for count in counts.values():
        if count["rows"] and not count["joined"]:
            raise KervanError(
                _("No row of %(file)s joins %(parent)s: no value of its column '%(column)s' is in the column "
                  "'%(parent_column)s'. Choose the columns that join them.") % count,
                "join_matches_nothing",
                field="related",
            )  # fmt: skip


def start_check(job: ImportJob, mapping, options: dict | None) -> None:
    """What import_job_start checks of related files before queueing them: roles, joins, mapping, settings."""
    merged = dict(job.options)
    given = (options or {}).get("related") if isinstance(options, dict) else None
    merged.update({k: v for k, v in (options or {}).items() if k != "related"})
    related = clean_related(given, job)
    settings = {k: v for k, v in merged.items() if k != "related"}
    merged = clean_settings(settings, source=job.source).as_dict()
    merged["related"] = related
    job.options = merged
    job.mapping = check_related_mapping(job, job.mapping if mapping is None else mapping)
    check_joins(job)


# -- the run ---------------------------------------------------------------------------------------------------------
